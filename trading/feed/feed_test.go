package feed_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/leaktest"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/internal/testkit"
	"github.com/tradecache/tradecache/trading"
	"github.com/tradecache/tradecache/trading/feed"
)

var topologies redistest.Shared

func TestMain(m *testing.M) { leaktest.Main(m, topologies.Close) }

// eachTopology runs fn on a Cache over the in-memory store, one
// redis-server, a Sentinel group and a Redis Cluster (the last two shared,
// and emptied first).
func eachTopology(t *testing.T, cfg tradecache.Config, fn func(t *testing.T, c *tradecache.Cache)) {
	cachetest.Each(t, &topologies, []string{cachetest.Memory, cachetest.Standalone, cachetest.Sentinel, cachetest.Cluster}, cfg, fn)
}

// newCache is a Cache for what is delivered, not how fast
// (cachetest.Quiet).
func newCache(t *testing.T, cfg tradecache.Config) *tradecache.Cache {
	t.Helper()
	return cachetest.Open(t, cachetest.Quiet(cfg))
}

func quote(sym string, seq uint64) trading.Quote {
	return trading.Quote{Symbol: sym, Bid: decimal.New(int64(seq), -2), Ask: decimal.New(int64(seq)+1, -2), Seq: seq, At: time.Now()}
}

// No gap, no duplicate: 8 publishers write shuffled versions for 50
// symbols while subscribers start at random moments. Every subscriber
// sees, per symbol, a snapshot and then a strictly increasing run of
// versions, with every version applied after its snapshot.
func TestSubscribersSeeEveryUpdateOnce(t *testing.T) {
	eachTopology(t, tradecache.Config{}, func(t *testing.T, c *tradecache.Cache) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		f := feed.New(c, feed.Options{Block: 200 * time.Millisecond})
		const nsym, perSym, publishers = 50, 60, 8
		syms := make([]string, nsym)
		for i := range syms {
			syms[i] = fmt.Sprintf("S%02d", i)
		}
		// Each publisher takes a share of every symbol's versions, shuffled.
		var work [publishers][]trading.Quote
		for _, s := range syms {
			for v := uint64(1); v <= perSym; v++ {
				p := rand.IntN(publishers)
				work[p] = append(work[p], quote(s, v))
			}
		}
		var applied sync.Map // "sym/version" -> entry applied
		var mu sync.Mutex
		maxApplied := map[string]uint64{}
		type seen struct {
			snap     map[string]uint64
			versions map[string][]uint64
		}
		subs := make([]*seen, 4) // written by startSub under mu
		var subWG sync.WaitGroup
		subCtx, stopSubs := context.WithCancel(ctx)
		defer stopSubs()
		startSub := func(k int) {
			s := &seen{snap: map[string]uint64{}, versions: map[string][]uint64{}}
			mu.Lock()
			subs[k] = s
			mu.Unlock()
			subWG.Add(1)
			go func() {
				defer subWG.Done()
				for u, err := range f.Subscribe(subCtx, syms) {
					if err != nil {
						t.Errorf("subscriber %d: %v", k, err)
						return
					}
					mu.Lock()
					switch {
					case u.Resync:
						t.Errorf("subscriber %d: a resync with nothing trimmed", k)
					case u.Snapshot:
						s.snap[u.Symbol] = u.Quote.Seq
					default:
						s.versions[u.Symbol] = append(s.versions[u.Symbol], u.Quote.Seq)
					}
					mu.Unlock()
				}
			}()
		}
		startSub(0) // before anything is published
		var pubWG sync.WaitGroup
		for p := range publishers {
			rand.Shuffle(len(work[p]), func(i, j int) { work[p][i], work[p][j] = work[p][j], work[p][i] })
			pubWG.Add(1)
			go func() {
				defer pubWG.Done()
				for i, q := range work[p] {
					ok, err := f.Publish(ctx, q)
					if err != nil {
						t.Errorf("publish: %v", err)
						return
					}
					if ok {
						applied.Store(fmt.Sprintf("%s/%d", q.Symbol, q.Seq), true)
						mu.Lock()
						maxApplied[q.Symbol] = max(maxApplied[q.Symbol], q.Seq)
						mu.Unlock()
					}
					if p == 0 {
						for k := 1; k <= 3; k++ { // subscribers 1-3 start mid-run
							if i == k*len(work[p])/4 {
								startSub(k)
							}
						}
					}
				}
			}()
		}
		pubWG.Wait()
		// Wait until every subscriber has reached every symbol's last version.
		deadline := time.Now().Add(30 * time.Second)
		for k := 0; k < len(subs); {
			mu.Lock()
			s := subs[k]
			mu.Unlock()
			done := s != nil
			if done {
				mu.Lock()
				for _, sym := range syms {
					vs := s.versions[sym]
					last := s.snap[sym]
					if len(vs) > 0 {
						last = vs[len(vs)-1]
					}
					if last < maxApplied[sym] {
						done = false
					}
				}
				mu.Unlock()
			}
			if done {
				k++
				continue
			}
			if time.Now().After(deadline) {
				mu.Lock()
				for _, sym := range syms {
					if s == nil {
						break
					}
					vs := s.versions[sym]
					if len(vs) == 0 || vs[len(vs)-1] < maxApplied[sym] {
						t.Logf("subscriber %d, %s: snapshot %d, versions %v, last applied %d", k, sym, s.snap[sym], vs, maxApplied[sym])
					}
				}
				mu.Unlock()
				t.Fatalf("subscriber %d did not reach the last versions", k)
			}
			time.Sleep(20 * time.Millisecond)
		}
		stopSubs()
		subWG.Wait()
		for k, s := range subs {
			for _, sym := range syms {
				prev := s.snap[sym]
				for _, v := range s.versions[sym] {
					if v <= prev {
						t.Fatalf("subscriber %d, %s: version %d after %d: not strictly increasing", k, sym, v, prev)
					}
					prev = v
				}
				// Every version applied above the snapshot was delivered.
				got := map[uint64]bool{}
				for _, v := range s.versions[sym] {
					got[v] = true
				}
				for v := s.snap[sym] + 1; v <= perSym; v++ {
					if _, ok := applied.Load(fmt.Sprintf("%s/%d", sym, v)); ok && !got[v] {
						t.Fatalf("subscriber %d, %s: version %d was applied after its snapshot (%d) and never delivered", k, sym, v, s.snap[sym])
					}
				}
			}
		}
		st := c.Stats(ctx).Streams
		t.Logf("published %d, refused %d, read %d, lag p50 %v p99 %v", st.Published, st.Refused, st.Read, st.LagP50, st.LagP99)
	})
}

// A consumer killed mid-batch (its ctx cancelled before it acknowledges):
// its entries are claimed and handled by another consumer, and each
// entry's effect, written with the version guard, is applied once.
func TestCrashedConsumersEntriesAreClaimed(t *testing.T) {
	eachTopology(t, tradecache.Config{}, func(t *testing.T, c *tradecache.Cache) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		f := feed.New(c, feed.Options{Block: 100 * time.Millisecond})
		syms := []string{"AAA", "BBB", "CCC"}
		const n = 40
		for v := uint64(1); v <= n; v++ {
			for _, s := range syms {
				if _, err := f.Publish(ctx, quote(s, v)); err != nil {
					t.Fatal(err)
				}
			}
		}
		effects := c.Namespace("effects")
		var applied, handled atomic.Int64
		effect := func(ctx context.Context, u feed.Update) error {
			handled.Add(1)
			// Idempotent: one key per entry, guarded by its version.
			ok, err := effects.SetIfNewer(ctx, u.Symbol+":"+fmt.Sprint(u.Quote.Seq), u.Quote.Bid, u.Quote.Seq, time.Minute)
			if ok {
				applied.Add(1)
			}
			return err
		}
		opts := feed.ConsumeOptions{MinIdle: 300 * time.Millisecond}
		// The first consumer dies in the middle of its batch.
		crashCtx, crash := context.WithCancel(ctx)
		var seenByCrashed atomic.Int64
		_ = f.Consume(crashCtx, "pnl", "doomed", syms, func(ctx context.Context, u feed.Update) error {
			if seenByCrashed.Add(1) == 25 {
				crash()
				<-ctx.Done()
				return ctx.Err()
			}
			return effect(ctx, u)
		}, opts)
		// The second takes over, claiming what the first left pending.
		survivorCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- f.Consume(survivorCtx, "pnl", "survivor", syms, effect, opts) }()
		// Every entry's effect is in the store. (Counting the handlers'
		// successes would not do: the crashed consumer's last write may
		// land after its ctx ended, and the survivor's retry then finds it
		// applied, as it should.)
		var keys []string
		for _, s := range syms {
			for v := 1; v <= n; v++ {
				keys = append(keys, fmt.Sprintf("%s:%d", s, v))
			}
		}
		got := map[string]decimal.Decimal{}
		if !testkit.Poll(30*time.Second, func() bool {
			clear(got)
			if _, err := effects.GetMany(ctx, keys, &got); err != nil {
				t.Fatal(err)
			}
			return len(got) == len(keys)
		}) {
			t.Fatalf("%d of %d effects applied", len(got), len(keys))
		}
		var pending int64
		testkit.Poll(30*time.Second, func() bool {
			pending = 0
			for _, s := range syms {
				p, err := tradecache.StreamOf(c.Namespace("market_data"), trading.Key(s, trading.KindQuote)).Group("pnl").Pending(ctx)
				if err != nil {
					t.Fatal(err)
				}
				pending += p
			}
			return pending == 0
		})
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		st := c.Stats(ctx).Streams
		t.Logf("%d handler calls for %d entries, each effect applied once (%d seen applying); claimed %d, pending %d", handled.Load(), n*len(syms), applied.Load(), st.Claimed, pending)
		if applied.Load() > int64(n*len(syms)) || pending != 0 || st.Claimed == 0 {
			t.Fatalf("applied %d times for %d entries, pending %d, claimed %d", applied.Load(), n*len(syms), pending, st.Claimed)
		}
	})
}

// An entry whose handler keeps failing goes to the dead-letter stream after
// MaxDeliveries, with the error, and the others are handled.
func TestFailingEntriesAreDeadLettered(t *testing.T) {
	eachTopology(t, tradecache.Config{}, testDeadLetters)
}

func testDeadLetters(t *testing.T, c *tradecache.Cache) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := feed.New(c, feed.Options{Block: 50 * time.Millisecond})
	for v := uint64(1); v <= 5; v++ {
		if _, err := f.Publish(ctx, quote("BAD", v)); err != nil {
			t.Fatal(err)
		}
	}
	var ok atomic.Int64
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- f.Consume(cctx, "risk", "w1", []string{"BAD"}, func(ctx context.Context, u feed.Update) error {
			if u.Quote.Seq == 3 {
				return fmt.Errorf("position %d does not reconcile", u.Quote.Seq)
			}
			ok.Add(1)
			return nil
		}, feed.ConsumeOptions{MinIdle: 20 * time.Millisecond, MaxDeliveries: 3})
	}()
	ns := c.Namespace(tradecache.NamespaceMarketData)
	var dead []tradecache.StreamEvent
	testkit.Eventually(t, 20*time.Second, "the failing entry is dead-lettered", func() bool {
		var err error
		if dead, err = tradecache.StreamOf(ns, trading.Key("BAD", trading.KindQuote)).DeadLetters(ctx, "-", 10); err != nil {
			t.Fatal(err)
		}
		return len(dead) > 0
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Version != 3 || dead[0].Reason != "delivery 3: position 3 does not reconcile" || ok.Load() != 4 {
		t.Fatalf("dead letters %+v, %d handled", dead, ok.Load())
	}
	var q trading.Quote
	if err := dead[0].Decode(&q); err != nil || q.Seq != 3 {
		t.Fatalf("the dead letter keeps its quote: %+v %v", q, err)
	}
}

// Retention keeps the stream bounded under a sustained publish rate; a
// subscriber that stalls past it is told, resyncs from a snapshot, and
// goes on; its memory does not grow while it stalls.
func TestAStalledSubscriberResyncs(t *testing.T) {
	c := newCache(t, tradecache.Config{Redis: tradecache.RedisConfig{URL: "redis://" + redistest.Start(t).Addr},
		Namespaces: map[string]tradecache.NamespaceConfig{tradecache.NamespaceMarketData: {StreamMaxLen: 100}}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := feed.New(c, feed.Options{Buffer: 16, Count: 16, Block: 50 * time.Millisecond})
	if _, err := f.Publish(ctx, quote("HOT", 1)); err != nil {
		t.Fatal(err)
	}
	var seq atomic.Uint64
	seq.Store(1)
	pubCtx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for pubCtx.Err() == nil {
			if _, err := f.Publish(pubCtx, quote("HOT", seq.Add(1))); err != nil && pubCtx.Err() == nil {
				t.Error(err)
				return
			}
		}
	}()
	var heapBefore, heapDuring runtime.MemStats
	resynced, after := false, 0
	var last uint64
	for u, err := range f.Subscribe(ctx, []string{"HOT"}) {
		if err != nil {
			t.Fatal(err)
		}
		if u.Quote.Seq <= last && !u.Resync {
			t.Fatalf("version %d after %d", u.Quote.Seq, last)
		}
		last = u.Quote.Seq
		switch {
		case u.Snapshot && !u.Resync:
			runtime.GC()
			runtime.ReadMemStats(&heapBefore)
			// Stall for 10 s, while thousands are published, many times
			// the retention.
			stalled := time.Now()
			for seq.Load() < 3000 || time.Since(stalled) < 10*time.Second {
				time.Sleep(10 * time.Millisecond)
			}
			runtime.GC()
			runtime.ReadMemStats(&heapDuring)
		case u.Resync:
			resynced = true
		case resynced:
			after++
		}
		if resynced && after >= 50 {
			break
		}
	}
	stopPub()
	<-pubDone
	es, err := tradecache.StreamOf(c.Namespace(tradecache.NamespaceMarketData), trading.Key("HOT", trading.KindQuote)).Range(ctx, "-", "+", 100000)
	if err != nil {
		t.Fatal(err)
	}
	grew := int64(heapDuring.HeapAlloc) - int64(heapBefore.HeapAlloc)
	t.Logf("%d published, the stream holds %d (retention 100), heap grew %d KiB while stalled", seq.Load(), len(es), grew>>10)
	if !resynced || len(es) > 300 || grew > 8<<20 {
		t.Fatalf("resynced %v, stream length %d, heap growth %d bytes", resynced, len(es), grew)
	}
}

// Replay reads a window of the stream back, page by page.
func TestReplayAWindow(t *testing.T) {
	eachTopology(t, tradecache.Config{}, testReplay)
}

func testReplay(t *testing.T, c *tradecache.Cache) {
	ctx := context.Background()
	f := feed.New(c, feed.Options{Count: 7})
	var ids []string
	for v := uint64(1); v <= 30; v++ {
		if _, err := f.Publish(ctx, quote("RPL", v)); err != nil {
			t.Fatal(err)
		}
	}
	for u, err := range f.Replay(ctx, "RPL", "-", "+") {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
		if u.Quote.Seq != uint64(len(ids)) {
			t.Fatalf("replay entry %d is version %d", len(ids), u.Quote.Seq)
		}
	}
	if len(ids) != 30 {
		t.Fatalf("replayed %d of 30", len(ids))
	}
	n := 0
	for u, err := range f.Replay(ctx, "RPL", ids[9], ids[19]) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if u.Quote.Seq < 10 || u.Quote.Seq > 20 {
			t.Fatalf("version %d outside the window", u.Quote.Seq)
		}
	}
	if n != 11 {
		t.Fatalf("replayed %d of the 11 in the window", n)
	}
	if m, _, err := trading.NewMarket(c).Quote(ctx, "RPL"); err != nil || m.Seq != 30 {
		t.Fatalf("Market.Quote reads the published last value: %+v %v", m, err)
	}
}

// With Options.Near, a subscribed symbol's quote is held in the near tier
// and current: Market.Quote serves it from memory after each update that
// another process published.
//
// Current every time. Held: a read at once after the update is a near hit
// only if the subscription's re-read came after the update's invalidation,
// which reaches this process on another connection (the stream read's) and
// later on a busy machine (4 of 10 beside two CPU-burning loops, 7 to 9
// idle); so each update must be held within a while, and at least one
// must be at once: a current near hit before Market.Quote has read the
// new value can only be the subscription's doing.
func TestSubscriptionFeedsTheNearTier(t *testing.T) {
	url := "redis://" + redistest.Start(t).Addr
	reader := newCache(t, tradecache.Config{Redis: tradecache.RedisConfig{URL: url},
		Namespaces: map[string]tradecache.NamespaceConfig{tradecache.NamespaceMarketData: {Near: &tradecache.NearConfig{}}}})
	writer := newCache(t, tradecache.Config{Redis: tradecache.RedisConfig{URL: url}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := feed.New(writer, feed.Options{})
	if _, err := pub.Publish(ctx, quote("NEAR", 1)); err != nil {
		t.Fatal(err)
	}
	m := trading.NewMarket(reader)
	// nearRead reads the quote, which must be update seq, and says whether
	// the near tier served it.
	nearRead := func(seq uint64) bool {
		before := reader.Stats(ctx).NearHits
		q, found, err := m.Quote(ctx, "NEAR")
		if err != nil || !found || q.Seq != seq {
			t.Fatalf("Market.Quote after update %d: %+v %v %v", seq, q, found, err)
		}
		return reader.Stats(ctx).NearHits == before+1
	}
	seen, atOnce := 0, 0
	for u, err := range feed.New(reader, feed.Options{Near: true, Block: 50 * time.Millisecond}).Subscribe(ctx, []string{"NEAR"}) {
		if err != nil {
			t.Fatal(err)
		}
		if nearRead(u.Quote.Seq) {
			atOnce++
		} else {
			held := false
			for deadline := time.Now().Add(5 * time.Second); !held && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
				held = nearRead(u.Quote.Seq)
			}
			if !held {
				t.Fatalf("update %d was never held in the near tier", u.Quote.Seq)
			}
		}
		if seen++; seen == 10 {
			break
		}
		if _, err := pub.Publish(ctx, quote("NEAR", u.Quote.Seq+1)); err != nil {
			t.Fatal(err)
		}
	}
	if atOnce == 0 {
		t.Fatal("no update was a near hit at once: the subscription does not feed the near tier")
	}
	t.Logf("near hits at once after %d of 10 updates, the rest held within the wait", atOnce)
}
