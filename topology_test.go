package tradecache_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/keyslot"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/store/redisstore"
)

// TestEveryTopologyFromURLAndEnv connects to each deployment through each
// way of naming it (the environment variables and the URL forms) and
// checks that one constructor found the right topology and that a round
// trip, a batch across slots and a namespace clear work on it.
func TestEveryTopologyFromURLAndEnv(t *testing.T) {
	cl := topologies.Cluster(t)
	g := topologies.Sentinel(t)
	one := redistest.Start(t)
	ca, sa := cl.Addrs(), g.Addrs()
	for _, c := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"standalone env", map[string]string{"REDIS_HOST": "127.0.0.1", "REDIS_PORT": fmt.Sprint(one.Port)}, "standalone"},
		{"standalone URL", map[string]string{"REDIS_URL": "redis://" + one.Addr + "/0"}, "standalone"},
		{"cluster env", map[string]string{"REDIS_CLUSTER_ADDRS": strings.Join(ca[:3], ",")}, "cluster"},
		{"cluster URL", map[string]string{"REDIS_URL": "redis://" + ca[0] + "?addr=" + ca[1] + "&addr=" + ca[2]}, "cluster"},
		{"sentinel env", map[string]string{"REDIS_SENTINEL_ADDRS": strings.Join(sa, ","), "REDIS_SENTINEL_MASTER": redistest.MasterName}, "sentinel"},
		{"sentinel URL", map[string]string{"REDIS_URL": "redis://" + sa[0] + "?addr=" + sa[1] + "&master_set=" + redistest.MasterName}, "sentinel"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			t.Setenv("CACHE_ENVIRONMENT", "testing")
			cfg, err := tradecache.ConfigFromEnv()
			if err != nil {
				t.Fatal(err)
			}
			ctx := testCtx(t)
			cache := cachetest.Open(t, cfg)
			if got := cache.Topology(); got != c.want {
				t.Fatalf("Topology() = %q, want %q", got, c.want)
			}
			// The store reports its own connections: a cluster client keeps
			// one pipeline per node whatever REDIS_MAX_CONNECTIONS says (the
			// Cache once worked out 2 for it by itself).
			wantPipes := map[string]int{"standalone": 2, "sentinel": 2, "cluster": 1}[c.want]
			if st := cache.Stats(ctx); st.PipelinedConnections != wantPipes || st.BlockingPoolSize != cache.Config().Redis.MaxConnections {
				t.Fatalf("Stats connections: %d pipelined, pool %d; want %d, %d", st.PipelinedConnections, st.BlockingPoolSize, wantPipes, cache.Config().Redis.MaxConnections)
			}
			ns := cache.Namespace("topo")
			items := map[string]any{}
			keys := []string{}
			for i := range 40 {
				k := fmt.Sprintf("%s-%d", strings.ReplaceAll(c.name, " ", "-"), i)
				items[k], keys = i, append(keys, k)
			}
			if err := ns.SetMany(ctx, items, time.Minute); err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			if n, err := ns.GetMany(ctx, keys, &got); err != nil || n != 40 || got[keys[39]] != 39 {
				t.Fatalf("GetMany = %d, %v, %v", n, err, got[keys[39]])
			}
			if n, err := ns.Clear(ctx); err != nil || n < 40 {
				t.Fatalf("Clear = %d, %v; want at least 40", n, err)
			}
			if n, err := ns.GetMany(ctx, keys, &map[string]int{}); err != nil || n != 0 {
				t.Fatalf("GetMany after Clear = %d, %v", n, err)
			}
			st := cache.Stats(ctx)
			if st.Topology != c.want {
				t.Fatalf("Stats().Topology = %q", st.Topology)
			}
			// A cluster's INFO figures are the sums over its masters.
			if nodes := map[string]int{"cluster": 3}[c.want]; st.Redis == nil || st.Redis.Nodes != max(nodes, 1) || st.Redis.ConnectedClients == 0 {
				t.Fatalf("Stats().Redis = %+v, want figures from %d server(s)", st.Redis, max(nodes, 1))
			}
		})
	}
}

// TestClusterBatchesGroupBySlot checks how a batch reaches a cluster:
// each GetMany of 100 keys is one DoMulti at the client (rueidis sends each
// node's share on its own connection, at once), and the masters between
// them see one MGET per distinct slot: grouped by slot, never a CROSSSLOT
// MGET, never a GET per key.
func TestClusterBatchesGroupBySlot(t *testing.T) {
	cl := topologies.Cluster(t)
	cl.FlushAll(t)
	ctx := testCtx(t)
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: cl.Addrs(), DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingClient{Client: rc}
	c := cachetest.Open(t, tradecache.Config{HealthInterval: time.Hour}, tradecache.WithStore(redisstore.NewFromClient(cc)))
	ns := c.Namespace("slots")
	items := map[string]any{}
	keys := make([]string, 0, 1000)
	for i := range 1000 {
		k := fmt.Sprintf("k%d", i)
		if i < 100 {
			k = fmt.Sprintf("{desk}:k%d", i) // 100 keys under one hash tag: one slot
		}
		items[k], keys = i, append(keys, k)
	}
	if err := ns.SetMany(ctx, items, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, a := range cl.Masters() {
		if _, err := redistest.Do(a, "CONFIG", "RESETSTAT"); err != nil {
			t.Fatal(err)
		}
	}
	cc.calls.Store(0)
	got := map[string]int{}
	if n, err := ns.GetMany(ctx, keys, &got); err != nil || n != 1000 {
		t.Fatalf("GetMany = %d, %v", n, err)
	}
	wantMgets := int64(0)
	for lo := 0; lo < len(keys); lo += 100 {
		batch := map[uint16]bool{}
		for _, k := range keys[lo : lo+100] {
			batch[keyslot.Of("trading:slots:"+k)] = true
		}
		wantMgets += int64(len(batch))
	}
	if calls := cc.calls.Load(); calls != 10 {
		t.Fatalf("GetMany of 1000 keys made %d client calls, want 10 (one DoMulti per batch of 100)", calls)
	}
	if got := sum(t, cl.Masters(), "mget"); got != wantMgets {
		t.Fatalf("the masters saw %d MGETs, want %d (one per slot per batch; the hash-tagged batch is 1)", got, wantMgets)
	}
	if gets := sum(t, cl.Masters(), "get"); gets != 0 {
		t.Fatalf("the masters saw %d GETs: batches must not fall back to single keys outside a migration", gets)
	}
	t.Logf("1000 keys in 10 batches: %d MGETs across %d masters (the hash-tagged batch: 1)", wantMgets, len(cl.Masters()))
}
