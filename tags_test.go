package tradecache_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/keyslot"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/internal/testkit"
	"github.com/tradecache/tradecache/store"
	"github.com/tradecache/tradecache/store/memstore"
)

// TestInvalidateTagReachesEveryNamespace tags values in three namespaces,
// written by Set and by GetOrLoad, 40 keys each (on a cluster, on every
// shard), and makes them absent with one InvalidateTag call. Values with
// another tag, or none, stay.
func TestInvalidateTagReachesEveryNamespace(t *testing.T) {
	eachBackend(t, tradecache.Config{}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		nss := []*tradecache.Namespace{b.cache.Namespace("risk"), b.cache.Namespace("analytics"), b.cache.Namespace("models")}
		const n = 40
		for _, ns := range nss {
			for i := range n {
				k := fmt.Sprintf("k%d", i)
				if i%2 == 0 {
					if err := ns.Set(ctx, k, i, 0, tradecache.Tagged("sym:AAPL", "refdata")); err != nil {
						t.Fatal(err)
					}
				} else if _, _, err := tradecache.GetOrLoad(ctx, ns, k, func(context.Context) (int, error) { return i, nil }, tradecache.WithTags("sym:AAPL")); err != nil {
					t.Fatal(err)
				}
			}
			if err := ns.Set(ctx, "msft", 1, 0, tradecache.Tagged("sym:MSFT")); err != nil {
				t.Fatal(err)
			}
			if err := ns.Set(ctx, "plain", 2, 0); err != nil {
				t.Fatal(err)
			}
		}
		for _, ns := range nss {
			var v int
			if found, err := ns.Get(ctx, "k3", &v); err != nil || !found || v != 3 {
				t.Fatalf("%s before: %v %v %v", ns.Name(), v, found, err)
			}
		}
		if err := b.cache.InvalidateTag(ctx, "sym:AAPL"); err != nil {
			t.Fatal(err)
		}
		for _, ns := range nss {
			keys := []string{"msft", "plain"}
			for i := range n {
				k := fmt.Sprintf("k%d", i)
				keys = append(keys, k)
				var v int
				if found, err := ns.Get(ctx, k, &v); err != nil || found {
					t.Fatalf("%s/%s after InvalidateTag: found %v (%d), %v", ns.Name(), k, found, v, err)
				}
			}
			m := map[string]int{}
			if _, err := ns.GetMany(ctx, keys, &m); err != nil {
				t.Fatal(err)
			}
			if len(m) != 2 || m["msft"] != 1 || m["plain"] != 2 {
				t.Fatalf("%s GetMany after InvalidateTag: %v, want only msft and plain", ns.Name(), m)
			}
			got, err := tradecache.GetManyNear[int](ctx, ns, keys)
			if err != nil || len(got) != 2 {
				t.Fatalf("%s GetManyNear after InvalidateTag: %v, %v", ns.Name(), got, err)
			}
			// GetOrLoad loads again, and the new value is current.
			v, meta, err := tradecache.GetOrLoad(ctx, ns, "k1", func(context.Context) (int, error) { return 100, nil }, tradecache.WithTags("sym:AAPL"))
			if err != nil || v != 100 || meta.Source != tradecache.SourceLoader {
				t.Fatalf("%s GetOrLoad after InvalidateTag: %v %+v %v", ns.Name(), v, meta, err)
			}
			if v, meta, err = tradecache.GetOrLoad(ctx, ns, "k1", func(context.Context) (int, error) { return 200, nil }, tradecache.WithTags("sym:AAPL")); err != nil || v != 100 || meta.Source == tradecache.SourceLoader {
				t.Fatalf("%s GetOrLoad again: %v %+v %v", ns.Name(), v, meta, err)
			}
		}
	})
}

// TestTaggedValueComputedAcrossAnInvalidationIsNotCurrent: a value whose
// load began before InvalidateTag and whose store came after it carries
// the old token, so it never reads as current.
func TestTaggedValueComputedAcrossAnInvalidationIsNotCurrent(t *testing.T) {
	eachBackend(t, tradecache.Config{}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		ns := b.cache.Namespace("risk")
		v, _, err := tradecache.GetOrLoad(ctx, ns, "var", func(ctx context.Context) (int, error) {
			// The price changes while VaR is computed from the old one.
			if err := b.cache.InvalidateTag(ctx, "sym:AAPL"); err != nil {
				return 0, err
			}
			return 1, nil
		}, tradecache.WithTags("sym:AAPL"))
		if err != nil || v != 1 {
			t.Fatalf("GetOrLoad = %v, %v", v, err)
		}
		if _, ok := b.raw(t, "trading:risk:var"); !ok {
			t.Fatal("the loaded value was not stored")
		}
		var got int
		if found, err := ns.Get(ctx, "var", &got); err != nil || found {
			t.Fatalf("a value computed across an invalidation reads as current: %v %v %v", got, found, err)
		}
		// The same race by hand: tokens read, tag invalidated, value written.
		toks, err := b.cache.TagTokens(ctx, "sym:MSFT")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.cache.InvalidateTag(ctx, "sym:MSFT"); err != nil {
			t.Fatal(err)
		}
		if err := ns.Set(ctx, "exposure", 5, 0, tradecache.TaggedAsOf(toks)); err != nil {
			t.Fatal(err)
		}
		if found, err := ns.Get(ctx, "exposure", &got); err != nil || found {
			t.Fatalf("TaggedAsOf across an invalidation reads as current: %v %v", found, err)
		}
		// Without the invalidation in between, it is current.
		if toks, err = b.cache.TagTokens(ctx, "sym:MSFT"); err != nil {
			t.Fatal(err)
		}
		if err := ns.Set(ctx, "exposure", 6, 0, tradecache.TaggedAsOf(toks)); err != nil {
			t.Fatal(err)
		}
		if found, err := ns.Get(ctx, "exposure", &got); err != nil || !found || got != 6 {
			t.Fatalf("TaggedAsOf: %v %v %v", got, found, err)
		}
	})
}

// TestTagsAreCheckedAndBounded: bad tags are refused before anything is
// written.
func TestTagsAreCheckedAndBounded(t *testing.T) {
	c := newMemCache(t)
	ctx := testCtx(t)
	many := make([]string, 33)
	for i := range many {
		many[i] = fmt.Sprintf("t%d", i)
	}
	for name, tags := range map[string][]string{"empty": {""}, "space": {"a b"}, "long": {string(make([]byte, 257))}, "33 tags": many} {
		var ae *tradecache.ArgumentError
		if err := c.Set(ctx, "k", 1, 0, tradecache.Tagged(tags...)); !errors.As(err, &ae) {
			t.Errorf("Set with %s tags: %v, want an *ArgumentError", name, err)
		}
		if err := c.InvalidateTag(ctx, tags...); !errors.As(err, &ae) {
			t.Errorf("InvalidateTag with %s tags: %v, want an *ArgumentError", name, err)
		}
		if _, _, err := tradecache.GetOrLoad(ctx, c.Namespace("x"), "k", func(context.Context) (int, error) { return 1, nil }, tradecache.WithTags(tags...)); !errors.As(err, &ae) {
			t.Errorf("GetOrLoad with %s tags: %v, want an *ArgumentError", name, err)
		}
	}
	if found, _ := c.Exists(ctx, "k"); found {
		t.Fatal("a refused Set wrote")
	}
}

func newMemCache(t *testing.T) *tradecache.Cache {
	t.Helper()
	return cachetest.Open(t, tradecache.Config{})
}

// TestInvalidateTagReachesOtherInstances: B, a Cache in another process,
// reads tagged values (the tag's token held in its process, tracked); A
// invalidates the tag; B reads the values as absent within the near tier's
// visibility bound, on every topology.
func TestInvalidateTagReachesOtherInstances(t *testing.T) {
	t.Run("standalone", func(t *testing.T) {
		srv := redistest.Start(t)
		testTagReachesOther(t, tradecache.RedisConfig{URL: "redis://" + srv.Addr})
	})
	t.Run("sentinel", func(t *testing.T) {
		g := topologies.Sentinel(t)
		testTagReachesOther(t, tradecache.RedisConfig{SentinelAddrs: g.Addrs(), SentinelMaster: redistest.MasterName})
	})
	t.Run("cluster", func(t *testing.T) {
		testTagReachesOther(t, tradecache.RedisConfig{ClusterAddrs: topologies.Cluster(t).Addrs()})
	})
}

func testTagReachesOther(t *testing.T, rc tradecache.RedisConfig) {
	a, b := nearCacheOn(t, rc, false), startChild(t, rc)
	ctx := testCtx(t)
	mdA := a.Namespace("md")
	var lags []time.Duration
	for i := range 200 {
		tag := fmt.Sprintf("round%d", i%3)
		// A value of another process under the tag, and B's read of it,
		// which holds the tag's token in B.
		if got := b.do(t, fmt.Sprintf("load k%d %s %d", i, tag, i)); got != fmt.Sprintf("value %d loader", i) {
			t.Fatalf("round %d: B's load: %s", i, got)
		}
		if got := b.do(t, fmt.Sprintf("get k%d", i)); got != fmt.Sprintf("found %d", i) {
			t.Fatalf("round %d: B's read: %s", i, got)
		}
		if err := a.InvalidateTag(ctx, tag); err != nil {
			t.Fatal(err)
		}
		done := time.Now()
		for {
			got := b.do(t, fmt.Sprintf("get k%d", i))
			if got == "absent" {
				lags = append(lags, time.Since(done))
				break
			}
			if got != fmt.Sprintf("found %d", i) {
				t.Fatalf("round %d: B read %s", i, got)
			}
			if time.Since(done) > time.Second {
				t.Fatalf("round %d: InvalidateTag on A invisible on B after 1s", i)
			}
		}
		var v int64
		if found, err := mdA.Get(ctx, fmt.Sprintf("k%d", i), &v); err != nil || found {
			t.Fatalf("round %d: A reads %v %v %v", i, v, found, err)
		}
	}
	slices.Sort(lags)
	p99 := lags[len(lags)*99/100]
	t.Logf("InvalidateTag on A seen by B in another process: p50 %v, p99 %v, max %v over %d rounds", lags[len(lags)/2], p99, lags[len(lags)-1], len(lags))
	if p99 > 100*time.Millisecond {
		t.Fatalf("1 invalidation in 100 took over 100ms to reach B: p99 %v", p99)
	}
}

// TestDurableInvalidation: Redis fails (on one server: kill -9, with an
// append-only file so that its data comes back; on Sentinel and Cluster:
// kill -9 of the master that holds the keys). A deletes a key and
// invalidates a tag: both calls return nil, and A never serves either
// value again, fail-safe included. When Redis is back (restarted, or
// failed over), A's queue lands by itself, and B, a Cache in another
// process that held both values, reads the loader's new ones, with no
// call from A.
func TestDurableInvalidation(t *testing.T) {
	t.Run("standalone", func(t *testing.T) {
		srv := redistest.Start(t, redistest.Option{"appendonly", "yes"}, redistest.Option{"appendfsync", "always"})
		testDurableInvalidation(t, tradecache.RedisConfig{URL: "redis://" + srv.Addr}, srv.Kill, func() { srv.Restart(t) })
	})
	t.Run("sentinel", func(t *testing.T) {
		g := redistest.StartSentinel(t)
		old := g.Master
		testDurableInvalidation(t, tradecache.RedisConfig{SentinelAddrs: g.Addrs(), SentinelMaster: redistest.MasterName},
			old.Kill, func() { g.WaitFailover(t, old, 30*time.Second) })
	})
	t.Run("cluster", func(t *testing.T) {
		cl := redistest.StartCluster(t)
		slot := keyslot.Of("{durable}")
		var old *redistest.Server
		testDurableInvalidation(t, tradecache.RedisConfig{ClusterAddrs: cl.Addrs()},
			func() { old = cl.Master(t, slot); old.Kill() }, func() { cl.WaitMaster(t, slot, old, 30*time.Second) })
	})
}

func testDurableInvalidation(t *testing.T, rc tradecache.RedisConfig, kill, back func()) {
	off := false
	a, err := tradecache.New(context.Background(), tradecache.Config{
		LogSlowOps: &off, Redis: rc, OpTimeout: 100 * time.Millisecond,
		Namespaces: map[string]tradecache.NamespaceConfig{"md": {Near: &tradecache.NearConfig{}, TTL: time.Hour, MaxStale: time.Hour}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b := startChild(t, rc)
	ctx := testCtx(t)
	mdA := a.Namespace("md")
	// One hash slot for both keys and the tag's key: on a cluster, the
	// master killed holds all three.
	const deleted, tagged, tag = "{durable}deleted", "{durable}tagged", "{durable}t"
	load := func(v int64) func(context.Context) (int64, error) {
		return func(context.Context) (int64, error) { return v, nil }
	}
	if _, _, err := tradecache.GetOrLoad(ctx, mdA, deleted, load(0)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tradecache.GetOrLoad(ctx, mdA, tagged, load(0), tradecache.WithTags(tag)); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"load " + deleted + " - 9", "load " + tagged + " " + tag + " 9", "get " + deleted} {
		if got := b.do(t, cmd); !strings.HasSuffix(got, " 0 store") && got != "found 0" {
			t.Fatalf("B %s: %s, want A's 0", cmd, got)
		}
	}
	kill()
	if n, err := mdA.Delete(ctx, deleted); err != nil || n != 0 {
		t.Fatalf("Delete while Redis is away = %d, %v; want it queued (0, nil)", n, err)
	}
	if err := a.InvalidateTag(ctx, tag); err != nil {
		t.Fatalf("InvalidateTag while Redis is away = %v; want it queued", err)
	}
	if st := a.Stats(ctx).Invalidations; st.Enqueued != 2 {
		t.Fatalf("queue while away: %+v, want the delete and the tag queued", st)
	}
	// Fail-safe would serve the last known values: not these.
	failing := func(context.Context) (int64, error) { return 0, errors.New("the price service is down too") }
	for _, k := range []string{deleted, tagged} {
		if v, meta, err := tradecache.GetOrLoad(ctx, mdA, k, failing, tradecache.WithTags(tag)); err == nil {
			t.Fatalf("%s: served %d (%+v) after this process invalidated it", k, v, meta)
		}
	}
	back()
	// No call from A: its health checker applies the queue.
	if !testkit.Poll(20*time.Second, func() bool { return a.Stats(ctx).Invalidations.Queued == 0 }) {
		t.Fatalf("the queue was not applied within 20s of Redis being back: %+v", a.Stats(ctx).Invalidations)
	}
	if st := a.Stats(ctx).Invalidations; st.Applied != 2 || st.Dropped != 0 {
		t.Fatalf("queue after recovery: %+v", st)
	}
	for _, cmd := range []string{"load " + deleted + " - 1", "load " + tagged + " " + tag + " 1"} {
		var got string
		if !testkit.Poll(10*time.Second, func() bool { got = b.do(t, cmd); return got == "value 1 loader" }) {
			t.Fatalf("B %s: %s after the queue landed, want the loader's 1", cmd, got)
		}
	}
}

// TestInvalidationQueueOverflowIsReported: past Config.InvalidationQueue,
// an invalidation that cannot reach the store is an error the caller
// sees (ErrInvalidationQueueFull), counted in Stats; the value is still
// forgotten by this process.
func TestInvalidationQueueOverflowIsReported(t *testing.T) {
	srv := redistest.Start(t)
	off := false
	c, err := tradecache.New(context.Background(), tradecache.Config{LogSlowOps: &off, Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr},
		OpTimeout: 100 * time.Millisecond, InvalidationQueue: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testCtx(t)
	srv.Kill()
	for i, k := range []string{"a", "b", "a"} { // "a" again: deduplicated
		if _, err := c.Delete(ctx, k); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
	}
	_, err = c.Delete(ctx, "c")
	if !errors.Is(err, tradecache.ErrInvalidationQueueFull) || !errors.Is(err, tradecache.ErrUnavailable) && !errors.Is(err, tradecache.ErrTimeout) {
		t.Fatalf("delete past the queue = %v, want ErrInvalidationQueueFull and the store's error", err)
	}
	if err := c.InvalidateTag(ctx, "t"); !errors.Is(err, tradecache.ErrInvalidationQueueFull) {
		t.Fatalf("InvalidateTag past the queue = %v", err)
	}
	if st := c.Stats(ctx).Invalidations; st.Queued != 2 || st.Dropped != 2 || st.OldestAge <= 0 {
		t.Fatalf("stats %+v, want 2 queued and 2 dropped", st)
	}
}

// refusingDeletes is the in-memory store with deletes refused while fail
// is set, as a Redis shard in CLUSTERDOWN refuses them.
type refusingDeletes struct {
	*memstore.Store
	fail atomic.Bool
}

func (s *refusingDeletes) Delete(ctx context.Context, keys ...string) (int64, error) {
	if s.fail.Load() {
		return 0, fmt.Errorf("%w: CLUSTERDOWN", store.ErrRefused)
	}
	return s.Store.Delete(ctx, keys...)
}

// TestQueuedDeleteGoesBeforeTheNextWrite: this process's write of a key
// whose delete it queued applies the delete first, so the delete can
// never land after the write and remove the newer value; while the delete
// cannot be applied, the write is not made, and reads of the key are
// misses even though the store still holds the old value.
func TestQueuedDeleteGoesBeforeTheNextWrite(t *testing.T) {
	mem, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &refusingDeletes{Store: mem}
	c := cachetest.Open(t, tradecache.Config{Environment: tradecache.Testing}, tradecache.WithStore(s))
	ctx := testCtx(t)
	if err := c.Set(ctx, "k", "old", 0); err != nil {
		t.Fatal(err)
	}
	s.fail.Store(true)
	if _, err := c.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete = %v, want it queued", err)
	}
	var v string
	if found, err := c.Get(ctx, "k", &v); err != nil || found {
		t.Fatalf("Get after a queued delete = %q %v %v, want a miss", v, found, err)
	}
	if err := c.Set(ctx, "k", "new", 0); err == nil {
		t.Fatal("a Set went through while the queued delete of its key could not be applied")
	}
	if b, _, _ := mem.Get(ctx, "trading:default:k"); b == nil {
		t.Fatal("the old value is gone from the store: the delete was not refused")
	}
	s.fail.Store(false)
	if err := c.Set(ctx, "k", "new", 0); err != nil {
		t.Fatal(err)
	}
	// Give the health checker's drain its ticks: nothing it does may
	// remove the newer value.
	time.Sleep(100 * time.Millisecond)
	if found, err := c.Get(ctx, "k", &v); err != nil || !found || v != "new" {
		t.Fatalf("after the Set: %q %v %v, want new", v, found, err)
	}
	if st := c.Stats(ctx).Invalidations; st.Queued != 0 || st.Applied != 1 {
		t.Fatalf("queue %+v, want the delete applied", st)
	}
}

// refusingSetNX is the in-memory store refusing SET NX, so that a tag
// without a token cannot be given one.
type refusingSetNX struct{ *memstore.Store }

func (refusingSetNX) SetNX(context.Context, string, []byte, time.Duration) (bool, error) {
	return false, fmt.Errorf("%w: READONLY", store.ErrRefused)
}

// TestTaggedLoadsWhoseTokensCannotBeReadAreServedNotStored: GetOrLoad and
// GetManyOrLoad alike return what the loader returned when the tags'
// tokens cannot be read, and store none of it: a value stored without its
// tokens could never be invalidated.
func TestTaggedLoadsWhoseTokensCannotBeReadAreServedNotStored(t *testing.T) {
	mem, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := cachetest.Open(t, tradecache.Config{Environment: tradecache.Testing}, tradecache.WithStore(refusingSetNX{mem}))
	ctx := testCtx(t)
	ns := c.Namespace("risk")
	v, meta, err := tradecache.GetOrLoad(ctx, ns, "one", func(context.Context) (int, error) { return 1, nil }, tradecache.WithTags("t"))
	if err != nil || v != 1 || meta.Source != tradecache.SourceLoader {
		t.Fatalf("GetOrLoad = %v %+v %v", v, meta, err)
	}
	vals, _, err := tradecache.GetManyOrLoad(ctx, ns, []string{"a", "b"}, func(_ context.Context, missing []string) (map[string]int, error) {
		return map[string]int{"a": 1, "b": 2}, nil
	}, tradecache.WithTags("t"))
	if err != nil || vals["a"] != 1 || vals["b"] != 2 {
		t.Fatalf("GetManyOrLoad = %v, %v", vals, err)
	}
	for _, k := range []string{"one", "a", "b"} {
		if b, _, _ := mem.Get(ctx, "trading:risk:"+k); b != nil {
			t.Fatalf("%s was stored without its tags' tokens", k)
		}
	}
}

// The tag keys' store calls are observed as every other store call is:
// timed, counted and logged when slow, under the namespace "#tag".
func TestTagKeyCallsAreObserved(t *testing.T) {
	var buf testkit.SyncBuffer
	on := true
	c := cachetest.Open(t, tradecache.Config{LogSlowOps: &on, SlowOpThreshold: time.Nanosecond},
		tradecache.WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	ctx := context.Background()
	if err := c.InvalidateTag(ctx, "desk:7"); err != nil {
		t.Fatal(err)
	}
	if err := c.Namespace("risk").Set(ctx, "VaR", 1, time.Minute, tradecache.Tagged("desk:8")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"op":"set_many","namespace":"#tag"`, `"op":"get_many","namespace":"#tag"`} {
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("no slow-operation line with %s; the log:\n%s", want, buf.String())
		}
	}
}
