package tradecache_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/internal/testkit"
)

// TestReadFromReplica checks that a namespace marked ReadFromReplica sends
// its reads to replicas and every other namespace reads the primary, on
// each topology that has replicas: a Sentinel group, a cluster, and a
// standalone primary with REDIS_REPLICA_ADDRS. It counts GETs and MGETs
// on each server with INFO commandstats, so a read that went to the wrong
// server fails the test.
func TestReadFromReplica(t *testing.T) {
	run := func(t *testing.T, rc tradecache.RedisConfig, primaries, replicas func() []string) {
		ctx := testCtx(t)
		cfg := tradecache.Config{Environment: tradecache.Testing, Redis: rc, HealthInterval: time.Hour,
			Namespaces: map[string]tradecache.NamespaceConfig{"quotes": {ReadFromReplica: true}}}
		c := cachetest.Open(t, cfg)
		quotes, orders := c.Namespace("quotes"), c.Namespace("orders")
		items := map[string]any{}
		keys := make([]string, 50)
		for i := range keys {
			keys[i] = "k" + strconv.Itoa(i)
			items[keys[i]] = int64(i)
		}
		if err := quotes.SetMany(ctx, items, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := orders.SetMany(ctx, items, time.Minute); err != nil {
			t.Fatal(err)
		}
		// Replication is asynchronous: wait until the replicas hold all
		// 100 keys before reading from them.
		if !testkit.Poll(5*time.Second, func() bool { return sum(t, replicas(), "DBSIZE") == 100 }) {
			t.Fatalf("replicas hold %d of 100 keys after 5s", sum(t, replicas(), "DBSIZE"))
		}
		for _, a := range append(primaries(), replicas()...) {
			if _, err := redistest.Do(a, "CONFIG", "RESETSTAT"); err != nil {
				t.Fatal(err)
			}
		}
		var v int64
		for i, k := range keys {
			for _, ns := range []*tradecache.Namespace{quotes, orders} {
				if ok, err := ns.Get(ctx, k, &v); err != nil || !ok || v != int64(i) {
					t.Fatalf("%s Get(%s) = %d, %v, %v", ns.Name(), k, v, ok, err)
				}
			}
		}
		got := map[string]int64{}
		if n, err := quotes.GetMany(ctx, keys, &got); err != nil || n != len(keys) {
			t.Fatalf("quotes GetMany = %d, %v", n, err)
		}
		replicaGets, primaryGets := sum(t, replicas(), "get"), sum(t, primaries(), "get")
		replicaMgets, primaryMgets := sum(t, replicas(), "mget"), sum(t, primaries(), "mget")
		t.Logf("GETs: %d on replicas, %d on primaries; MGETs: %d on replicas, %d on primaries", replicaGets, primaryGets, replicaMgets, primaryMgets)
		if replicaGets != 50 || primaryGets != 50 {
			t.Fatalf("GETs: %d on replicas and %d on primaries, want 50 and 50 (quotes from replicas, orders from primaries)", replicaGets, primaryGets)
		}
		if replicaMgets == 0 || primaryMgets != 0 {
			t.Fatalf("MGETs of a replica-read namespace: %d on replicas, %d on primaries", replicaMgets, primaryMgets)
		}
	}

	t.Run("sentinel", func(t *testing.T) {
		g := topologies.Sentinel(t)
		g.FlushAll(t)
		run(t, tradecache.RedisConfig{SentinelAddrs: g.Addrs(), SentinelMaster: redistest.MasterName},
			func() []string { a, _ := g.MasterAddr(); return []string{a} },
			func() []string {
				a, _ := g.MasterAddr()
				for _, s := range []*redistest.Server{g.Master, g.Replica} {
					if s.Addr != a {
						return []string{s.Addr}
					}
				}
				return nil
			})
	})
	t.Run("cluster", func(t *testing.T) {
		cl := topologies.Cluster(t)
		cl.FlushAll(t)
		run(t, tradecache.RedisConfig{ClusterAddrs: cl.Addrs()}, cl.Masters, func() []string {
			var out []string
			for _, n := range cl.Nodes {
				if r, err := redistest.Role(n.Addr); err == nil && r == "slave" {
					out = append(out, n.Addr)
				}
			}
			return out
		})
	})
	t.Run("standalone", func(t *testing.T) {
		primary := redistest.Start(t)
		replica := redistest.Start(t, redistest.Option{"replicaof", "127.0.0.1 " + strconv.Itoa(primary.Port)})
		run(t, tradecache.RedisConfig{Host: "127.0.0.1", Port: primary.Port, ReplicaAddrs: []string{replica.Addr}},
			func() []string { return []string{primary.Addr} }, func() []string { return []string{replica.Addr} })
	})
}

// sum adds up a figure over servers: "DBSIZE", or the calls of a command
// from INFO commandstats ("get").
func sum(t *testing.T, addrs []string, what string) int64 {
	t.Helper()
	var n int64
	for _, a := range addrs {
		if what == "DBSIZE" {
			v, err := redistest.Do(a, "DBSIZE")
			if err != nil {
				t.Fatal(err)
			}
			n += v.(int64)
			continue
		}
		info, err := redistest.DoString(a, "INFO", "commandstats")
		if err != nil {
			t.Fatal(err)
		}
		var calls int64
		fmt.Sscanf(redistest.InfoField(info, "cmdstat_"+what), "calls=%d", &calls)
		n += calls
	}
	return n
}
