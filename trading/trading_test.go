package trading_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/clock"
	"github.com/tradecache/tradecache/internal/leaktest"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/internal/testkit"
	"github.com/tradecache/tradecache/trading"
)

// topologies are the cluster and Sentinel group the tests share.
var topologies redistest.Shared

func TestMain(m *testing.M) { leaktest.Main(m, topologies.Close) }

// eachTopology runs fn on a Cache over one redis-server, a Sentinel group
// and a Redis Cluster (the last two shared, and emptied first): the
// version-guarded writes must keep a value and its version key in one
// slot, and dependency invalidation must reach every shard.
func eachTopology(t *testing.T, fn func(t *testing.T, c *tradecache.Cache)) {
	cachetest.Each(t, &topologies, []string{cachetest.Standalone, cachetest.Sentinel, cachetest.Cluster}, tradecache.Config{}, fn)
}

// publish writes quotes with sequence numbers 1..updates, shuffled (every
// publisher is late or early at random), quote seq for symbol
// symbols[seq%len(symbols)], from n goroutines, and returns how many the
// version guard applied.
func publish(t *testing.T, m *trading.Market, symbols []string, updates, n int) int64 {
	seqs := rand.Perm(updates)
	var next, applied atomic.Int64
	var writers sync.WaitGroup
	for range n {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(updates) {
					return
				}
				seq := uint64(seqs[i]) + 1
				sym := symbols[seq%uint64(len(symbols))]
				ok, err := m.CacheQuote(context.Background(), trading.Quote{Symbol: sym, Seq: seq, Bid: decimal.New(int64(seq), -2), At: time.Now()})
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					applied.Add(1)
				}
			}
		}()
	}
	writers.Wait()
	return applied.Load()
}

// watch runs n readers, reader r calling read(r) in a loop, and returns a
// stop that ends them and says how many times a symbol's sequence went
// backwards between two reads of one reader.
func watch(t *testing.T, n int, read func(r int) (map[string]trading.Quote, error)) (stop func() int64) {
	done := make(chan struct{})
	var readers sync.WaitGroup
	var backwards atomic.Int64
	for r := range n {
		readers.Add(1)
		go func() {
			defer readers.Done()
			last := map[string]uint64{}
			for {
				select {
				case <-done:
					return
				default:
				}
				qs, err := read(r)
				if err != nil {
					t.Error(err)
					return
				}
				for s, q := range qs {
					if q.Seq < last[s] {
						backwards.Add(1)
					}
					last[s] = q.Seq
				}
				time.Sleep(50 * time.Microsecond) // leave the writers some CPU
			}
		}()
	}
	return func() int64 {
		close(done)
		readers.Wait()
		return backwards.Load()
	}
}

func TestOutOfOrderWritesNeverGoBack(t *testing.T) {
	eachTopology(t, func(t *testing.T, c *tradecache.Cache) {
		m := trading.NewMarket(c)
		ctx := context.Background()
		symbols := []string{"AAPL", "MSFT", "GOOG", "AMZN", "NVDA"}
		const updates = 10000
		stop := watch(t, 4, func(int) (map[string]trading.Quote, error) { return m.Quotes(ctx, symbols) })
		applied := publish(t, m, symbols, updates, 8)
		if n := stop(); n != 0 {
			t.Fatalf("readers saw a version go backwards %d times", n)
		}
		for i, s := range symbols {
			q, ok, err := m.Quote(ctx, s)
			// The highest sequence for symbol i is the largest seq ≤ updates with seq % 5 == i.
			want := uint64(updates)
			for want%uint64(len(symbols)) != uint64(i) {
				want--
			}
			if err != nil || !ok || q.Seq != want || !q.Bid.Equal(decimal.New(int64(want), -2)) {
				t.Fatalf("%s: stored seq %d (%v %v), want the highest, %d", s, q.Seq, ok, err, want)
			}
		}
		if applied >= updates || applied < int64(len(symbols)) {
			t.Fatalf("%d of %d writes applied: out-of-order writes must be refused", applied, updates)
		}
		t.Logf("%d of %d shuffled writes applied; 0 reads went backwards", applied, updates)
		if _, err := m.CacheMarketData(ctx, "AAPL", trading.KindQuote, 0, trading.Quote{}); !errors.Is(err, trading.ErrNoSequence) {
			t.Fatalf("seq 0: %v", err)
		}
		if _, err := m.CacheMarketData(ctx, "AAPL", "tick", 1, trading.Quote{}); !errors.Is(err, tradecache.ErrInvalidArgument) {
			t.Fatalf("unknown kind: %v", err)
		}
	})
}

func TestMarketDataKinds(t *testing.T) {
	eachTopology(t, func(t *testing.T, c *tradecache.Cache) {
		m := trading.NewMarket(c)
		ctx := context.Background()
		d := decimal.RequireFromString
		if ok, err := m.CacheMarketData(ctx, "AAPL", trading.KindBar, 10, trading.Bar{Symbol: "AAPL", Interval: "1m", Open: d("150.00"), Close: d("150.10"), Seq: 10}); err != nil || !ok {
			t.Fatal(ok, err)
		}
		if ok, _ := m.CacheMarketData(ctx, "AAPL", trading.KindTrade, 7, trading.Trade{Symbol: "AAPL", Price: d("150.05"), Size: d("100"), Seq: 7}); !ok {
			t.Fatal("trade not applied")
		}
		if ok, _ := m.CacheMarketData(ctx, "AAPL", trading.KindBook, 3, trading.Book{Symbol: "AAPL", Bids: []trading.Level{{Price: d("149.99"), Size: d("300")}}, Seq: 3}); !ok {
			t.Fatal("book not applied")
		}
		bar, ok, err := m.Bar(ctx, "AAPL")
		if err != nil || !ok || bar.Open.StringFixed(2) != "150.00" || bar.Open.Exponent() != -2 {
			t.Fatalf("bar %+v %v %v", bar, ok, err)
		}
		tr, _, _ := m.Trade(ctx, "AAPL")
		bk, _, _ := m.Book(ctx, "AAPL")
		if tr.Price.StringFixed(2) != "150.05" || len(bk.Bids) != 1 || bk.Bids[0].Price.StringFixed(2) != "149.99" {
			t.Fatalf("trade %+v book %+v", tr, bk)
		}
		// Kinds are versioned independently.
		if ok, _ := m.CacheMarketData(ctx, "AAPL", trading.KindTrade, 5, trading.Trade{Seq: 5}); ok {
			t.Fatal("an older trade was applied")
		}
	})
}

// The sessions' rules by the Cache's clock, on the in-memory store (whose
// expiry follows the same clock): touched every 150 ms a session outlives
// its 600 ms idle window until its 1600 ms maximum lifetime, which a touch
// cannot extend; untouched it ends after the idle window. The test moves
// the clock, so a busy machine cannot make it wrong or flaky; what a real
// server's expiry does is TestSessionsSlideAndEnd's.
func TestSessionsSlideAndEndByTheClock(t *testing.T) {
	clk := clock.New(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	c := cachetest.Open(t, tradecache.Config{}, tradecache.WithClock(clk))
	ctx := context.Background()
	s, err := trading.NewSessions(c, 600*time.Millisecond, 1600*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	alive := func(id string) bool {
		t.Helper()
		_, ok, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if err := s.Create(ctx, trading.Session{ID: "slides", User: "trader-7"}); err != nil {
		t.Fatal(err)
	}
	for at := 150 * time.Millisecond; at <= 1500*time.Millisecond; at += 150 * time.Millisecond {
		clk.Advance(150 * time.Millisecond)
		if _, ok, err := s.Touch(ctx, "slides"); err != nil || !ok {
			t.Fatalf("touched every 150 ms, the session was gone at %v (%v)", at, err)
		}
	}
	// endsIn checks that id is alive until 1 ms before d from now, and
	// gone 1 ms after.
	endsIn := func(id string, d time.Duration, what string) {
		t.Helper()
		clk.Advance(d - time.Millisecond)
		if !alive(id) {
			t.Fatalf("the session ended before %s", what)
		}
		clk.Advance(2 * time.Millisecond)
		if alive(id) {
			t.Fatalf("the session outlived %s", what)
		}
	}
	// The touch at 1500 ms could give it only the 100 ms left of its life.
	endsIn("slides", 100*time.Millisecond, "its 1600 ms maximum lifetime")
	if _, ok, err := s.Touch(ctx, "slides"); err != nil || ok {
		t.Fatalf("a touch after the maximum lifetime found it: %v %v", ok, err)
	}
	// Untouched, it ends after the idle window.
	if err := s.Create(ctx, trading.Session{ID: "idle", User: "u"}); err != nil {
		t.Fatal(err)
	}
	endsIn("idle", 600*time.Millisecond, "its 600 ms idle window, untouched")
	// A session created past its maximum lifetime is refused.
	if err := s.Create(ctx, trading.Session{ID: "old", CreatedAt: clk.Now().Add(-2 * time.Second)}); err == nil {
		t.Fatal("a session past its maximum lifetime was created")
	}
}

func TestSessionsSlideAndEnd(t *testing.T) {
	eachTopology(t, func(t *testing.T, c *tradecache.Cache) {
		ctx := context.Background()
		// Windows long enough that a touch delayed by a busy machine does not
		// end the session early.
		s, err := trading.NewSessions(c, 600*time.Millisecond, 1600*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		// A verdict counts only when this process kept to its schedule: a
		// touch that finds the session gone is a failure only if it returned
		// within the idle window of the previous call's sending (the server
		// got that one no earlier). On a starved machine the gap can exceed
		// the window; that attempt says nothing, and the scenario runs again
		// with a new session.
		const idle = 600 * time.Millisecond
		for attempt := 0; ; attempt++ {
			if attempt == 10 {
				t.Fatal("10 attempts, each held past the idle window by a busy machine: nothing was checked")
			}
			id := fmt.Sprintf("tok-%d", attempt)
			sent := time.Now()
			if err := s.Create(ctx, trading.Session{ID: id, User: "trader-7"}); err != nil {
				t.Fatal(err)
			}
			start := sent
			held := false
			// Touching every 150 ms keeps it alive past the 600 ms idle window...
			for time.Since(start) < 1200*time.Millisecond && !held {
				time.Sleep(150 * time.Millisecond)
				prev := sent
				sent = time.Now()
				_, ok, err := s.Touch(ctx, id)
				switch {
				case err != nil:
					t.Fatal(err)
				case !ok && time.Since(prev) < idle:
					t.Fatalf("session lost at %v although touched %v before", time.Since(start), time.Since(prev))
				case !ok:
					held = true // this process was held past the window
				}
			}
			if held {
				continue
			}
			// ...but not past the 1600 ms maximum lifetime.
			deadline := time.Now().Add(3 * time.Second)
			for !held {
				prev := sent
				sent = time.Now()
				_, ok, err := s.Touch(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					if time.Since(start) < 1500*time.Millisecond {
						if time.Since(prev) >= idle {
							held = true
							break
						}
						t.Fatalf("session ended after %v, before its maximum lifetime", time.Since(start))
					}
					break
				}
				if time.Since(sent) < 100*time.Millisecond && time.Since(start) > 1800*time.Millisecond || time.Now().After(deadline) {
					t.Fatalf("session alive %v after creation, past its 1600 ms maximum lifetime", time.Since(start))
				}
				time.Sleep(50 * time.Millisecond)
			}
			if !held {
				break
			}
		}
		// Without touches it ends after the idle window.
		if err := s.Create(ctx, trading.Session{ID: "tok-2", User: "u"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(900 * time.Millisecond)
		if _, ok, _ := s.Get(ctx, "tok-2"); ok {
			t.Fatal("an idle session outlived its idle window")
		}
	})
}

func TestWarm(t *testing.T) {
	eachTopology(t, func(t *testing.T, c *tradecache.Cache) {
		ctx := context.Background()
		ns := c.Namespace("refdata")
		var keys []string
		for i := range 100 {
			keys = append(keys, fmt.Sprintf("ISIN%03d", i))
		}
		if err := ns.Set(ctx, "ISIN000", "already", 0); err != nil {
			t.Fatal(err)
		}
		var progress []int
		var running, peak atomic.Int64
		sum, err := trading.Warm(ctx, ns, keys, func(ctx context.Context, key string) (string, error) {
			n := running.Add(1)
			defer running.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(2 * time.Millisecond)
			if key[len(key)-1] == '7' {
				return "", fmt.Errorf("no reference data for %s", key)
			}
			return "data:" + key, nil
		}, trading.WarmOptions{Concurrency: 4, SkipExisting: true, Progress: func(done, total int) { progress = append(progress, done) }})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Loaded != 89 || sum.Failed != 10 || sum.Skipped != 1 || len(sum.Errors) != 10 || sum.Duration <= 0 {
			t.Fatalf("summary %+v", sum)
		}
		if len(progress) != 100 || progress[99] != 100 || peak.Load() > 4 {
			t.Fatalf("%d progress calls (last %v), peak concurrency %d", len(progress), progress[len(progress)-1], peak.Load())
		}
		var v string
		if ok, _ := ns.Get(ctx, "ISIN001", &v); !ok || v != "data:ISIN001" {
			t.Fatalf("warmed value %q", v)
		}
		if ok, _ := ns.Get(ctx, "ISIN000", &v); !ok || v != "already" {
			t.Fatal("SkipExisting reloaded an existing key")
		}
	})
}

func TestPortfolioInvalidationIsExact(t *testing.T) {
	eachTopology(t, func(t *testing.T, c *tradecache.Cache) {
		ctx := context.Background()
		p := trading.NewPortfolios(c)
		d := decimal.RequireFromString
		cache := func(id string, deps ...string) {
			g, err := p.Generation(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			must(t, p.CachePortfolioCalculation(ctx, id, "value", d("1000000.50"), g))
			must(t, p.CachePortfolioCalculation(ctx, id, "pnl", d("-1234.56"), g))
			must(t, p.CacheRiskCalculation(ctx, id, "VaR", d("-23456.78"), g))
			must(t, p.CacheRiskCalculation(ctx, id, "delta", d("0.45"), g, trading.DependsOn(deps...)))
		}
		cache("P1", "AAPL")
		cache("P2", "MSFT")
		read := func(id string) trading.Snapshot {
			s, err := p.Read(ctx, id, []string{"value", "pnl"}, []string{"VaR", "delta"})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		if s := read("P1"); len(s.Values) != 4 || len(s.Stale) != 0 || s.Values["value"].StringFixed(2) != "1000000.50" {
			t.Fatalf("fresh snapshot %+v", s)
		}
		// A position change in P1 invalidates all of P1 and nothing of P2.
		must(t, p.InvalidatePortfolio(ctx, "P1"))
		if s := read("P1"); len(s.Values) != 0 || fmt.Sprint(s.Stale) != "[VaR delta pnl value]" {
			t.Fatalf("P1 after its invalidation %+v", s)
		}
		if s := read("P2"); len(s.Values) != 4 {
			t.Fatalf("P2 touched by P1's invalidation: %+v", s)
		}
		// A quote change invalidates exactly the calculations that depend on it.
		must(t, p.InvalidateSymbol(ctx, "MSFT"))
		if s := read("P2"); len(s.Values) != 3 || fmt.Sprint(s.Stale) != "[delta]" {
			t.Fatalf("P2 after MSFT moved %+v", s)
		}
		if v, ok, err := p.PortfolioCalculation(ctx, "P2", "value"); err != nil || !ok || !v.Equal(d("1000000.5")) {
			t.Fatalf("P2 value %v %v %v", v, ok, err)
		}
	})
}

// A position changes between two calculations' writes: the snapshot must
// not present the older one as current beside the newer one.
func TestMixedSnapshotIsDetected(t *testing.T) {
	eachTopology(t, func(t *testing.T, c *tradecache.Cache) {
		ctx := context.Background()
		p := trading.NewPortfolios(c)
		d := decimal.RequireFromString
		g1, err := p.Generation(ctx, "P9")
		must(t, err)
		must(t, p.CachePortfolioCalculation(ctx, "P9", "value", d("100.00"), g1)) // computed before the change
		must(t, p.InvalidatePortfolio(ctx, "P9"))                                 // the position changes
		g2, err := p.Generation(ctx, "P9")
		must(t, err)
		must(t, p.CacheRiskCalculation(ctx, "P9", "VaR", d("-7.00"), g2)) // computed after it
		s, err := p.Read(ctx, "P9", []string{"value"}, []string{"VaR"})
		must(t, err)
		if _, mixed := s.Values["value"]; mixed || fmt.Sprint(s.Stale) != "[value]" || !s.Values["VaR"].Equal(d("-7")) {
			t.Fatalf("snapshot mixed generations without saying so: %+v", s)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Quotes read through a near tier on another instance than the writers'
// never go backwards either, converge on the highest version once the
// writes stop, and are mostly served in process. A Book never comes from
// the near tier.
func TestNearQuotesNeverGoBack(t *testing.T) {
	srv := redistest.Start(t)
	off := false
	newCache := func(near bool) *tradecache.Cache {
		// Bounded loosely: under -race the readers' near hits compete with
		// the writers for two cores, and a write that times out would not
		// be the subject of this test.
		cfg := tradecache.Config{LogSlowOps: &off, OpTimeout: 5 * time.Second, Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr}}
		if near {
			cfg.Namespaces = map[string]tradecache.NamespaceConfig{tradecache.NamespaceMarketData: {Near: &tradecache.NearConfig{}}}
		}
		c := cachetest.Open(t, cfg)
		return c
	}
	writer, reader := trading.NewMarket(newCache(false)), newCache(true)
	rm := trading.NewMarket(reader)
	ctx := context.Background()
	symbols := []string{"AAPL", "MSFT", "GOOG"}
	const updates = 3000
	stop := watch(t, 4, func(r int) (map[string]trading.Quote, error) {
		if r%2 == 0 {
			return rm.Quotes(ctx, symbols)
		}
		qs := map[string]trading.Quote{}
		var err error
		for _, s := range symbols {
			q, ok, qerr := rm.Quote(ctx, s)
			if ok {
				qs[s] = q
			}
			err = errors.Join(err, qerr)
		}
		return qs, err
	})
	publish(t, writer, symbols, updates, 4)
	if n := stop(); n != 0 {
		t.Fatalf("near readers saw a version go backwards %d times", n)
	}
	for i, s := range symbols {
		want := uint64(updates)
		for want%3 != uint64(i) {
			want--
		}
		var (
			q   trading.Quote
			ok  bool
			err error
		)
		if !testkit.Poll(time.Second, func() bool {
			q, ok, err = rm.Quote(ctx, s)
			return err == nil && ok && q.Seq == want && q.Bid.Equal(decimal.New(int64(want), -2))
		}) {
			stored, _, _ := writer.Quote(ctx, s)
			t.Fatalf("%s: the near reader still has seq %d (%v %v) 1s after the last write; want %d (Redis has %d)", s, q.Seq, ok, err, want, stored.Seq)
		}
	}
	st := reader.Stats(ctx)
	if st.NearHits == 0 {
		t.Fatalf("no near hits: %+v", st)
	}
	// A book is read from Redis every time.
	if _, err := writer.CacheMarketData(ctx, "AAPL", trading.KindBook, 1, trading.Book{Symbol: "AAPL", Bids: []trading.Level{{}}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if b, ok, err := rm.Book(ctx, "AAPL"); err != nil || !ok || len(b.Bids) != 1 {
			t.Fatalf("Book = %+v %v %v", b, ok, err)
		}
	}
	if n := reader.Stats(ctx).NearEntries; n != len(symbols) {
		t.Fatalf("%d near entries, want the %d quotes and no book", n, len(symbols))
	}
	t.Logf("near hits %d, misses %d over the run; 0 reads went backwards", st.NearHits, st.NearMisses)
}

// What comes back from Redis is untrusted: a msgpack nil, or a map of
// another type's fields, planted under a quote's key is not served as a
// found quote with zero fields, and get-or-load reloads it.
func TestHostileQuoteIsNotServedAsValid(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	c := cachetest.Open(t, tradecache.Config{Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr}})
	m := trading.NewMarket(c)
	w, _ := codec.New(codec.Options{})
	other, _ := w.Marshal("", map[string]any{"price": "1.0", "venue": "X"})
	for name, raw := range map[string][]byte{"nil": {0x10, 0xc0}, "another type": other} {
		if _, err := redistest.Do(srv.Addr, "SET", "trading:market_data:AAPL:quote", string(raw)); err != nil {
			t.Fatal(err)
		}
		q, found, err := m.Quote(ctx, "AAPL")
		if found || err == nil || !errors.Is(err, codec.ErrType) && !errors.Is(err, codec.ErrInvalid) {
			t.Fatalf("%s under a quote key: Quote = %+v, found %v, %v; want an error and nothing found", name, q, found, err)
		}
		loads := 0
		got, meta, err := tradecache.GetOrLoad(ctx, c.Namespace(tradecache.NamespaceMarketData), "AAPL:quote",
			func(context.Context) (trading.Quote, error) {
				loads++
				return trading.Quote{Symbol: "AAPL", Seq: 7}, nil
			})
		if err != nil || loads != 1 || got.Seq != 7 || meta.Source != tradecache.SourceLoader {
			t.Fatalf("%s: GetOrLoad = %+v %+v %v after %d loads; want the loader's value", name, got, meta, err, loads)
		}
	}
}

// A VaR computed before InvalidateSymbol and stored after it reads as
// missing: the symbol's token is captured when the computation starts
// (Generation with DependsOn), not when it is stored.
func TestSymbolInvalidationDuringAComputationIsNotLost(t *testing.T) {
	eachTopology(t, symbolInvalidationDuringAComputation)
}

func symbolInvalidationDuringAComputation(t *testing.T, c *tradecache.Cache) {
	ctx := context.Background()
	p := trading.NewPortfolios(c)
	tok, err := p.Generation(ctx, "P-1", trading.DependsOn("AAPL"))
	must(t, err)
	must(t, p.InvalidateSymbol(ctx, "AAPL")) // a quote changed while VaR was computed
	must(t, p.CacheRiskCalculation(ctx, "P-1", "VaR", decimal.RequireFromString("-100.00"), tok, trading.DependsOn("AAPL")))
	if v, ok, err := p.RiskCalculation(ctx, "P-1", "VaR"); err != nil || ok {
		t.Fatalf("a VaR computed from a superseded quote reads as current: %v %v %v", v, ok, err)
	}
	// Computed after the change, it is current; and a later invalidation
	// of the symbol makes it missing again.
	tok, err = p.Generation(ctx, "P-1", trading.DependsOn("AAPL"))
	must(t, err)
	must(t, p.CacheRiskCalculation(ctx, "P-1", "VaR", decimal.RequireFromString("-101.00"), tok))
	if v, ok, err := p.RiskCalculation(ctx, "P-1", "VaR"); err != nil || !ok || v.String() != "-101" {
		t.Fatalf("a current VaR: %v %v %v", v, ok, err)
	}
	must(t, p.InvalidateSymbol(ctx, "AAPL"))
	if _, ok, _ := p.RiskCalculation(ctx, "P-1", "VaR"); ok {
		t.Fatal("a VaR survived its symbol's invalidation")
	}
}

// A Redis restarted from an older snapshot serves old prices; the process
// does not present them as the present: a quote older than one it read is
// refused with ErrWentBack (and counted), an older write is not applied,
// and the Cache notices the new server (Stats.ServerChanges) and drops
// what it held of the old one's data.
func TestRestoreToOlderDataDoesNotGoBack(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	off := false
	c, err := tradecache.New(ctx, tradecache.Config{
		LogSlowOps: &off, HealthInterval: 50 * time.Millisecond,
		Redis:      tradecache.RedisConfig{URL: "redis://" + srv.Addr},
		Namespaces: map[string]tradecache.NamespaceConfig{tradecache.NamespaceMarketData: {Near: &tradecache.NearConfig{}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := trading.NewMarket(c)
	q := trading.Quote{Symbol: "AAPL", Bid: decimal.RequireFromString("150.00"), Seq: 10}
	if _, err := m.CacheQuote(ctx, q); err != nil {
		t.Fatal(err)
	}
	if _, err := redistest.Do(srv.Addr, "SAVE"); err != nil { // the snapshot holds seq 10
		t.Fatal(err)
	}
	q.Seq = 20
	if _, err := m.CacheQuote(ctx, q); err != nil {
		t.Fatal(err)
	}
	if got, _, err := m.Quote(ctx, "AAPL"); err != nil || got.Seq != 20 {
		t.Fatalf("Quote = %+v %v", got, err)
	}
	srv.Restart(t) // loads dump.rdb: seq 10 again
	if v, _ := redistest.DoString(srv.Addr, "EXISTS", "trading:market_data:AAPL:quote"); v != "1" {
		t.Fatalf("the restarted server did not load the snapshot (EXISTS = %q)", v)
	}
	var (
		got   trading.Quote
		found bool
	)
	if !testkit.Poll(10*time.Second, func() bool {
		got, found, err = m.Quote(ctx, "AAPL")
		if found && got.Seq < 20 {
			t.Fatalf("after the restore the process served seq %d as current, having read 20", got.Seq)
		}
		return errors.Is(err, trading.ErrWentBack)
	}) {
		t.Fatalf("no ErrWentBack 10s after the restore: %+v %v %v", got, found, err)
	}
	if m.WentBack() == 0 {
		t.Fatal("the refused read was not counted")
	}
	// A Market made after the restore, over the same Cache, shares its
	// high-water marks: it refuses seq 10 too.
	if got, found, err := trading.NewMarket(c).Quote(ctx, "AAPL"); !errors.Is(err, trading.ErrWentBack) {
		t.Fatalf("a Market made after the restore read %+v (found %v, err %v), want ErrWentBack", got, found, err)
	}
	q.Seq = 15
	if applied, err := m.CacheQuote(ctx, q); err != nil || applied {
		t.Fatalf("CacheQuote(seq 15) after having seen 20: applied %v, %v", applied, err)
	}
	testkit.Eventually(t, 10*time.Second, "the Cache notices the restarted server", func() bool { return c.Stats(ctx).ServerChanges > 0 })
}

// What a reader refuses, a writer refuses first: a Quote without a symbol
// (or a Session without a user) is an ErrInvalidArgument on every write
// path, and nothing is written.
func TestWritersRefuseWhatReadersRefuse(t *testing.T) {
	c := cachetest.Open(t, tradecache.Config{})
	ctx := context.Background()
	m := trading.NewMarket(c)
	ns := c.Namespace(tradecache.NamespaceMarketData)
	bad := trading.Quote{Seq: 5}
	checks := map[string]error{}
	_, checks["CacheQuote"] = m.CacheQuote(ctx, bad)
	checks["Set"] = ns.Set(ctx, "bad", bad, 0)
	checks["SetMany"] = ns.SetMany(ctx, map[string]any{"bad": &bad}, 0)
	_, checks["SetIfNewer"] = ns.SetIfNewer(ctx, "bad", bad, 9, 0)
	_, _, checks["Publish"] = tradecache.StreamOf(ns, "bad").Publish(ctx, bad, 9)
	_, _, _ = tradecache.GetOrLoad(ctx, ns, "bad-loaded", func(context.Context) (trading.Quote, error) { return bad, nil })
	for path, err := range checks {
		if !errors.Is(err, tradecache.ErrInvalidArgument) {
			t.Errorf("%s of a quote without a symbol: %v, want ErrInvalidArgument", path, err)
		}
	}
	if err := c.Namespace(tradecache.NamespaceSession).Set(ctx, "s", trading.Session{ID: "s"}, 0); !errors.Is(err, tradecache.ErrInvalidArgument) {
		t.Errorf("a session without a user: %v", err)
	}
	for _, k := range []string{"bad", "bad-loaded", trading.Key("", trading.KindQuote)} {
		var q trading.Quote
		if found, err := ns.Get(ctx, k, &q); found {
			t.Errorf("%s was written: %+v %v", k, q, err)
		}
	}
}
