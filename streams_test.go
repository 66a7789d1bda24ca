package tradecache_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/store"
	"github.com/tradecache/tradecache/store/memstore"
)

func streamCache(t *testing.T, cfg tradecache.Config) *tradecache.Cache {
	t.Helper()
	cfg.Redis = tradecache.RedisConfig{URL: "redis://" + redistest.Start(t).Addr}
	cfg.OpTimeout = 2 * time.Second
	return mustNew(t, cfg)
}

// Publish is SetIfNewer and an append to the key's stream in one step: an
// out-of-order version is refused for both, and every entry names the one
// before it.
func TestPublishAppendsOnlyWhatIsApplied(t *testing.T) {
	c := streamCache(t, tradecache.Config{})
	ctx := testCtx(t)
	ns := c.Namespace("market_data")
	var ids []string
	for _, v := range []uint64{3, 1, 5, 5, 4, 9} {
		applied, id, err := tradecache.StreamOf(ns, "AAPL").Publish(ctx, fmt.Sprint("v", v), v)
		must(t, err)
		if applied != (v == 3 || v == 5 && len(ids) == 1 || v == 9) {
			t.Fatalf("version %d: applied %v", v, applied)
		}
		if applied {
			ids = append(ids, id)
		}
	}
	es, err := tradecache.StreamOf(ns, "AAPL").Range(ctx, "-", "+", 100)
	must(t, err)
	if len(es) != 3 || es[0].Version != 3 || es[1].Version != 5 || es[2].Version != 9 {
		t.Fatalf("stream %+v, want versions 3, 5, 9", es)
	}
	if es[0].Prev != "" || es[1].Prev != es[0].ID || es[2].Prev != es[1].ID || es[2].ID != ids[2] {
		t.Fatalf("the chain of entries is broken: %+v", es)
	}
	var v string
	must(t, es[1].Decode(&v))
	if v != "v5" {
		t.Fatalf("entry decodes to %q", v)
	}
	snap, err := tradecache.StreamOf(ns, "AAPL").Snapshot(ctx, &v)
	must(t, err)
	if !snap.Found || snap.Version != 9 || snap.LastID != ids[2] || v != "v9" {
		t.Fatalf("snapshot %+v %q", snap, v)
	}
	// The plain version guard and Publish share the version key.
	applied, err := ns.SetIfNewer(ctx, "AAPL", "old", 8, 0)
	must(t, err)
	if applied {
		t.Fatal("SetIfNewer at 8 applied over a published 9")
	}
	st := c.Stats(ctx).Streams
	if st.Published != 3 || st.Refused != 3 {
		t.Fatalf("stream stats %+v, want 3 published and 3 refused", st)
	}
}

// Retention keeps a stream bounded whatever the publish rate.
func TestStreamRetentionBoundsTheStream(t *testing.T) {
	c := streamCache(t, tradecache.Config{Namespaces: map[string]tradecache.NamespaceConfig{"ticks": {StreamMaxLen: 100}}})
	ctx := testCtx(t)
	ns := c.Namespace("ticks")
	for v := uint64(1); v <= 2000; v++ {
		if _, _, err := tradecache.StreamOf(ns, "T").Publish(ctx, v, v); err != nil {
			t.Fatal(err)
		}
	}
	es, err := tradecache.StreamOf(ns, "T").Range(ctx, "-", "+", 10000)
	must(t, err)
	// MAXLEN ~ trims by whole nodes (100 entries each by default).
	if len(es) < 100 || len(es) > 300 {
		t.Fatalf("%d entries kept, retention 100 (approximately)", len(es))
	}
}

// The in-memory store keeps streams too; a store given with WithStore that
// keeps none makes every stream call fail with ErrNoStreams.
func TestStreamsOnEveryStore(t *testing.T) {
	c := mustNew(t, tradecache.Config{PublishStats: ptr(false)})
	if !c.HasStreams() {
		t.Fatal("the in-memory store keeps no streams")
	}
	applied, id, err := tradecache.StreamOf(c.Namespace("x"), "k").Publish(testCtx(t), 1, 1)
	if err != nil || !applied || id == "" {
		t.Fatalf("Publish on the memory store: %v %q %v", applied, id, err)
	}
	ms, err := memstore.New(memstore.Options{})
	must(t, err)
	defer ms.Close()
	plain := mustNew(t, tradecache.Config{PublishStats: ptr(false)}, tradecache.WithStore(storeOnly{ms}))
	if plain.HasStreams() {
		t.Fatal("a store without streams reported as having them")
	}
	if _, _, err := tradecache.StreamOf(plain.Namespace("x"), "k").Publish(testCtx(t), 1, 1); !errors.Is(err, tradecache.ErrNoStreams) {
		t.Fatalf("Publish on a store without streams: %v, want ErrNoStreams", err)
	}
}

// storeOnly hides every method of a store but store.Store's.
type storeOnly struct{ store.Store }

// A consumer group: entries are delivered once to one consumer; those not
// acknowledged are claimed by another after the idle time, with their
// delivery counts; dead letters keep the reason.
func TestConsumerGroupClaimAndDeadLetter(t *testing.T) {
	c := streamCache(t, tradecache.Config{})
	ctx := testCtx(t)
	ns := c.Namespace("orders")
	for v := uint64(1); v <= 5; v++ {
		_, _, err := tradecache.StreamOf(ns, "desk").Publish(ctx, v, v)
		must(t, err)
	}
	got, err := tradecache.StreamOf(ns, "desk").Group("risk").Read(ctx, "w1", 10, 0)
	must(t, err)
	if len(got) != 5 || got[0].Deliveries != 1 {
		t.Fatalf("w1 read %d entries", len(got))
	}
	must(t, tradecache.StreamOf(ns, "desk").Group("risk").Ack(ctx, got[0].ID, got[1].ID))
	if n, err := tradecache.StreamOf(ns, "desk").Group("risk").Pending(ctx); err != nil || n != 3 {
		t.Fatalf("pending %d, %v; want 3", n, err)
	}
	again, err := tradecache.StreamOf(ns, "desk").Group("risk").Read(ctx, "w2", 10, 0)
	must(t, err)
	if len(again) != 0 {
		t.Fatalf("w2 got %d entries already delivered to w1", len(again))
	}
	time.Sleep(20 * time.Millisecond)
	claimed, next, err := tradecache.StreamOf(ns, "desk").Group("risk").Claim(ctx, "w2", 10*time.Millisecond, "0-0", 10)
	must(t, err)
	if len(claimed) != 3 || claimed[0].Deliveries != 2 || next != "0-0" {
		t.Fatalf("claimed %+v (next %s), want the 3 unacknowledged, delivered twice", claimed, next)
	}
	// An entry is dead-lettered through its own stream's group only.
	if err := tradecache.StreamOf(ns, "other").Group("risk").DeadLetter(ctx, claimed[0], "wrong stream"); !errors.Is(err, tradecache.ErrInvalidArgument) {
		t.Fatalf("DeadLetter through another stream's group = %v, want ErrInvalidArgument", err)
	}
	must(t, tradecache.StreamOf(ns, "desk").Group("risk").DeadLetter(ctx, claimed[0], "handler: bad position"))
	dead, err := tradecache.StreamOf(ns, "desk").DeadLetters(ctx, "-", 10)
	must(t, err)
	if len(dead) != 1 || dead[0].Reason != "handler: bad position" || dead[0].Version != claimed[0].Version {
		t.Fatalf("dead letters %+v", dead)
	}
	if n, _ := tradecache.StreamOf(ns, "desk").Group("risk").Pending(ctx); n != 2 {
		t.Fatalf("pending %d after a dead letter, want 2", n)
	}
}

// A namespace that waits for replicas says when it did not get them: the
// update is applied on the master, and the caller knows a failover may
// lose it.
func TestPublishWaitsForReplicas(t *testing.T) {
	c := streamCache(t, tradecache.Config{Namespaces: map[string]tradecache.NamespaceConfig{
		"acked": {StreamReplicas: 1, StreamReplicaTimeout: 20 * time.Millisecond}}})
	applied, id, err := tradecache.StreamOf(c.Namespace("acked"), "k").Publish(testCtx(t), "v", 1)
	if !errors.Is(err, tradecache.ErrNotReplicated) || !applied || id == "" {
		t.Fatalf("Publish on a server without replicas: applied %v, id %q, %v; want applied and ErrNotReplicated", applied, id, err)
	}
}

// Every stream call is observed as the other store calls are: Ack and
// Pending now count in Stats.Ops (as delete and get), where before they
// were not timed at all.
func TestStreamCallsAreObserved(t *testing.T) {
	on, off := true, false
	c := cachetest.Open(t, tradecache.Config{EnableMetrics: &on, LogSlowOps: &off, PublishStats: &off})
	ctx := context.Background()
	ns := c.Namespace("obs")
	if _, _, err := tradecache.StreamOf(ns, "k").Publish(ctx, 1, 1); err != nil {
		t.Fatal(err)
	}
	evs, err := tradecache.StreamOf(ns, "k").Group("g").Read(ctx, "w", 10, 0)
	if err != nil || len(evs) != 1 {
		t.Fatal(evs, err)
	}
	before := c.Stats(ctx).Ops
	if err := tradecache.StreamOf(ns, "k").Group("g").Ack(ctx, evs[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tradecache.StreamOf(ns, "k").Group("g").Pending(ctx); err != nil {
		t.Fatal(err)
	}
	after := c.Stats(ctx).Ops
	if after["delete"].Count != before["delete"].Count+1 || after["get"].Count != before["get"].Count+1 {
		t.Fatalf("Ack and Pending not observed: delete %d -> %d, get %d -> %d",
			before["delete"].Count, after["delete"].Count, before["get"].Count, after["get"].Count)
	}
}
