package tradecache_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/clock"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/internal/testkit"
	"github.com/tradecache/tradecache/store"
	"github.com/tradecache/tradecache/store/memstore"
)

func redisCache(t *testing.T, srv *redistest.Server, cfg tradecache.Config, opts ...tradecache.Option) *tradecache.Cache {
	t.Helper()
	cfg.Redis = tradecache.RedisConfig{URL: "redis://" + srv.Addr}
	c := cachetest.Open(t, cfg, opts...)
	return c
}

// allMissed returns a wait for loaders: it returns once the caches have
// counted n misses, which each GetOrLoad call does just before it joins
// or starts a load, and then a little longer. Without it, a loaded
// machine (-race, other packages' tests) can bring a caller of a fan-out
// later than a short load lasts; a caller that arrives after a load has
// finished rightly starts another (a panicking one, say), which is not the
// stampede these tests are about.
func allMissed(n uint64, caches ...*tradecache.Cache) func() {
	return func() {
		testkit.Poll(10*time.Second, func() bool {
			var missed uint64
			for _, c := range caches {
				missed += c.Stats(context.Background()).Misses
			}
			return missed >= n
		})
		time.Sleep(20 * time.Millisecond)
	}
}

// stampedeConfig bounds store calls loosely: a reply slowed past the
// default 100ms by a loaded machine is a timeout, and a load that follows
// a failed read rightly does not store its value (the store looked down),
// so later callers load again. These tests are about stampedes.
func stampedeConfig(prefix string) tradecache.Config {
	return tradecache.Config{KeyPrefix: prefix, OpTimeout: 5 * time.Second}
}

// fanOut runs fn on n goroutines released at once and collects errors.
func fanOut(n int, fn func(i int) error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func TestGetOrLoadRunsTheLoaderOncePerStampede(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testCtx(t)
	price := decimal.RequireFromString("150.00")

	t.Run("one process, 1000 goroutines", func(t *testing.T) {
		c := redisCache(t, srv, stampedeConfig("one"))
		var calls atomic.Int64
		wait := allMissed(1000, c)
		load := func(context.Context) (decimal.Decimal, error) {
			calls.Add(1)
			wait()
			return price, nil
		}
		errs := fanOut(1000, func(int) error {
			v, meta, err := tradecache.GetOrLoad(ctx, c.Namespace("market_data"), "AAPL", load)
			if err == nil && (v.StringFixed(2) != "150.00" || v.Exponent() != -2 || meta.Stale) {
				err = fmt.Errorf("got %v %+v", v, meta)
			}
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("loader ran %d times for 1000 concurrent misses, want 1", n)
		}
		// Now it is cached: no more loads, and the meta says so.
		_, meta, err := tradecache.GetOrLoad(ctx, c.Namespace("market_data"), "AAPL", load)
		if err != nil || meta.Source != tradecache.SourceStore || meta.AsOf.IsZero() || calls.Load() != 1 {
			t.Fatalf("second read: %+v, %v, %d loads", meta, err, calls.Load())
		}
	})

	t.Run("five processes with the lock", func(t *testing.T) {
		var calls atomic.Int64
		var caches []*tradecache.Cache
		for range 5 {
			caches = append(caches, redisCache(t, srv, stampedeConfig("five")))
		}
		wait := allMissed(1000, caches...)
		load := func(context.Context) (decimal.Decimal, error) {
			calls.Add(1)
			wait()
			return price, nil
		}
		errs := fanOut(1000, func(i int) error {
			v, _, err := tradecache.GetOrLoad(ctx, caches[i%5].Namespace("market_data"), "AAPL", load,
				tradecache.WithLock(5*time.Second, 3*time.Second))
			if err == nil && !v.Equal(price) {
				err = fmt.Errorf("got %v", v)
			}
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("loader ran %d times across 5 Caches with the lock, want 1", n)
		}
	})

	t.Run("a dead lock holder blocks only for the lock's TTL", func(t *testing.T) {
		c := redisCache(t, srv, tradecache.Config{KeyPrefix: "dead"})
		admin := rawClient(t, srv.Addr)
		// A holder that crashed: its lock is there, its value never comes.
		admin.Do(ctx, admin.B().Set().Key("dead:market_data:AAPL lock").Value("crashed").PxMilliseconds(300).Build())
		start := time.Now()
		v, meta, err := tradecache.GetOrLoad(ctx, c.Namespace("market_data"), "AAPL",
			func(context.Context) (decimal.Decimal, error) { return price, nil },
			tradecache.WithLock(300*time.Millisecond, 2*time.Second))
		if err != nil || !v.Equal(price) || meta.Source != tradecache.SourceLoader {
			t.Fatalf("after a dead holder: %v, %+v, %v", v, meta, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("waited %v for a lock with a 300ms TTL", d)
		}
	})
}

func TestGetOrLoadPanicReachesEveryWaiter(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testCtx(t)
	c := redisCache(t, srv, stampedeConfig(""))
	var calls atomic.Int64
	wait := allMissed(1000, c)
	errs := fanOut(1000, func(int) error {
		_, _, err := tradecache.GetOrLoad(ctx, c.Namespace("risk"), "P1:VaR", func(context.Context) (int, error) {
			calls.Add(1)
			wait()
			panic("model blew up")
		})
		return err
	})
	for i, err := range errs {
		var pe *tradecache.PanicError
		if !errors.As(err, &pe) || pe.Value != "model blew up" || len(pe.Stack) == 0 {
			t.Fatalf("waiter %d got %v, want a *PanicError", i, err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("panicking loader ran %d times, want 1", n)
	}
	// A batch loader's panic reaches its caller the same way.
	_, _, err := tradecache.GetManyOrLoad(ctx, c.Namespace("risk"), []string{"P2:VaR"}, func(context.Context, []string) (map[string]int, error) {
		panic("batch model blew up")
	})
	if pe := (*tradecache.PanicError)(nil); !errors.As(err, &pe) || pe.Value != "batch model blew up" {
		t.Fatalf("GetManyOrLoad with a panicking loader = %v, want a *PanicError", err)
	}
	// The process lives, and the key loads normally afterwards.
	v, _, err := tradecache.GetOrLoad(ctx, c.Namespace("risk"), "P1:VaR", func(context.Context) (int, error) { return 7, nil })
	if err != nil || v != 7 {
		t.Fatalf("after the panic: %v, %v", v, err)
	}
}

func TestGetOrLoadWaitersKeepTheirOwnContexts(t *testing.T) {
	c := cachetest.Open(t, tradecache.Config{})
	release := make(chan struct{})
	load := func(context.Context) (string, error) { <-release; return "v", nil }
	impatient, cancel := context.WithCancel(context.Background())
	results := make(chan error, 2)
	go func() {
		_, _, err := tradecache.GetOrLoad(impatient, c.Namespace("x"), "k", load)
		results <- err
	}()
	go func() {
		v, _, err := tradecache.GetOrLoad(context.Background(), c.Namespace("x"), "k", load)
		if err == nil && v != "v" {
			err = fmt.Errorf("got %q", v)
		}
		results <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-results; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled waiter got %v", err)
	}
	close(release)
	if err := <-results; err != nil {
		t.Fatalf("the patient waiter failed because another cancelled: %v", err)
	}
}

func TestEarlyRefreshKeepsAHotKeyFromMissing(t *testing.T) {
	t.Parallel()
	// Ten expiries of a 1 s TTL on a clock the test moves, 10 ms a step,
	// with 8 readers each step: the outcome depends on XFetch alone, not
	// on how busy the machine is, and takes no 10 s.
	clk := clock.New(time.Unix(1_700_000_000, 0))
	c := cachetest.Open(t, tradecache.Config{}, tradecache.WithClock(clk))
	ctx := testCtx(t)
	const ttl = time.Second
	var (
		mu    sync.Mutex
		loads []time.Time
	)
	load := func(context.Context) (int64, error) {
		mu.Lock()
		defer mu.Unlock()
		loads = append(loads, clk.Now())
		return int64(len(loads)), nil
	}
	ns := c.Namespace("market_data")
	get := func() (tradecache.Meta, error) {
		_, meta, err := tradecache.GetOrLoad(ctx, ns, "hot", load, tradecache.WithTTL(ttl), tradecache.WithEarlyRefresh(1))
		return meta, err
	}
	if _, err := get(); err != nil {
		t.Fatal(err)
	}
	first := clk.Now()
	// stored waits until every load started has stored its value: a
	// refresh runs in the background, and the next step's readers must
	// see what it stored (each store is one "set" observed).
	stored := func() {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Microsecond) {
			mu.Lock()
			n := uint64(len(loads))
			mu.Unlock()
			st := c.Stats(ctx)
			if st.Ops["set"].Count == n && st.Loads == n && st.Refreshes+1 == n && tradecache.LoadsRunning(c) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("a refresh did not finish: %d loads, stats %+v", n, st)
			}
		}
	}
	var misses, stale, reads atomic.Int64
	for clk.Now().Before(first.Add(10*ttl + ttl/2)) {
		clk.Advance(10 * time.Millisecond)
		errs := fanOut(8, func(int) error {
			meta, err := get()
			reads.Add(1)
			if meta.Source == tradecache.SourceLoader {
				misses.Add(1)
			}
			if meta.Stale {
				stale.Add(1)
			}
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		stored()
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d reads, %d loads over %v", reads.Load(), len(loads), clk.Now().Sub(first))
	if misses.Load() != 0 || stale.Load() != 0 {
		t.Fatalf("callers saw %d misses and %d stale values across 10 expiries", misses.Load(), stale.Load())
	}
	// At most one load per expiry window: consecutive loads are at least
	// most of a TTL apart.
	for i := 1; i < len(loads); i++ {
		if gap := loads[i].Sub(loads[i-1]); gap < ttl/2 {
			t.Fatalf("loads %d and %d only %v apart", i-1, i, gap)
		}
	}
	// Early refresh reloads a little before expiry, so slightly more than
	// one load per TTL: 10.5 s of a 1 s TTL is 11 windows.
	if len(loads) < 11 || len(loads) > 13 {
		t.Fatalf("%d loads over 10 expiries, want 11 to 13", len(loads))
	}
}

func TestFailSafeWhenRedisDies(t *testing.T) {
	srv := redistest.Start(t)
	clk := clock.New(time.Now())
	c := redisCache(t, srv, tradecache.Config{Namespaces: map[string]tradecache.NamespaceConfig{
		"market_data": {MaxStale: 2 * time.Second},
	}}, tradecache.WithClock(clk))
	ctx := testCtx(t)
	ns := c.Namespace("market_data")
	var loaderDown atomic.Bool
	load := func(context.Context) (string, error) {
		if loaderDown.Load() {
			return "", errors.New("feed down")
		}
		return "fresh", nil
	}
	if _, _, err := tradecache.GetOrLoad(ctx, ns, "AAPL", load, tradecache.WithTTL(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	loadedAt := clk.Now()
	srv.Kill()
	loaderDown.Store(true)

	// Every call returns, quickly: a stale value within 300ms + 2s, flagged,
	// or an error; never a value past its max staleness. The Cache's clock
	// moves 50ms a call, so each bound is tested to the step, however busy
	// the machine.
	sawStale := false
	for ; clk.Now().Sub(loadedAt) < 3*time.Second; clk.Advance(50 * time.Millisecond) {
		start := time.Now()
		v, meta, err := tradecache.GetOrLoad(ctx, ns, "AAPL", load, tradecache.WithTTL(300*time.Millisecond))
		if d := time.Since(start); d > time.Second {
			t.Fatalf("GetOrLoad took %v with Redis dead", d)
		}
		age := clk.Now().Sub(loadedAt)
		switch {
		case err == nil && v == "fresh" && age < 300*time.Millisecond && !meta.Stale:
		case err == nil && meta.Stale:
			sawStale = true
			if meta.Source != tradecache.SourceLocal || meta.Err == nil || v != "fresh" {
				t.Fatalf("stale result %q %+v", v, meta)
			}
			if age >= 2300*time.Millisecond {
				t.Fatalf("served a value %v old, past 300ms fresh + 2s max stale", age)
			}
		case err != nil:
			if age < 2300*time.Millisecond {
				t.Fatalf("error %v at %v, while a value within its max staleness existed", err, age)
			}
		default:
			t.Fatalf("at %v: %q %+v %v", age, v, meta, err)
		}
	}
	if !sawStale {
		t.Fatal("never served the stale value")
	}
	_, _, err := tradecache.GetOrLoad(ctx, ns, "AAPL", load, tradecache.WithTTL(300*time.Millisecond))
	if err == nil {
		t.Fatal("a value past its max staleness was returned")
	}

	// Redis comes back (empty) and the feed recovers: fresh values flow
	// without restarting anything.
	srv.Restart(t)
	loaderDown.Store(false)
	var (
		v    string
		meta tradecache.Meta
	)
	if !testkit.Poll(5*time.Second, func() bool {
		v, meta, err = tradecache.GetOrLoad(ctx, ns, "AAPL", load, tradecache.WithTTL(300*time.Millisecond))
		if err != nil || v != "fresh" || meta.Stale {
			return false
		}
		_, meta2, err2 := tradecache.GetOrLoad(ctx, ns, "AAPL", load, tradecache.WithTTL(300*time.Millisecond))
		return err2 == nil && meta2.Source == tradecache.SourceStore // cached in the restarted Redis again
	}) {
		t.Fatalf("no recovery 5s after Redis restarted: %q %+v %v", v, meta, err)
	}
}

func TestGetManyOrLoadLoadsOnlyTheMissingKeys(t *testing.T) {
	eachBackend(t, tradecache.Config{}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		ns := b.cache.Namespace("portfolio")
		var keys []string
		cached := map[string]any{}
		for i := range 100 {
			k := fmt.Sprintf("P%03d", i)
			keys = append(keys, k)
			if i%8 < 3 && len(cached) < 37 {
				cached[k] = decimal.New(int64(i), -2)
			}
		}
		if len(cached) != 37 {
			t.Fatalf("setup cached %d", len(cached))
		}
		if err := ns.SetMany(ctx, cached, time.Minute); err != nil {
			t.Fatal(err)
		}
		var calls [][]string
		load := func(_ context.Context, missing []string) (map[string]decimal.Decimal, error) {
			calls = append(calls, append([]string(nil), missing...))
			out := map[string]decimal.Decimal{}
			for _, k := range missing {
				var i int64
				fmt.Sscanf(k, "P%d", &i)
				out[k] = decimal.New(i, -2)
			}
			return out, nil
		}
		got, metas, err := tradecache.GetManyOrLoad(ctx, ns, keys, load)
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) != 1 || len(calls[0]) != 63 {
			t.Fatalf("loader calls %v, want one call with 63 keys", len(calls))
		}
		sort.Strings(calls[0])
		for _, k := range calls[0] {
			if _, ok := cached[k]; ok {
				t.Fatalf("loader asked for cached key %s", k)
			}
		}
		for i, k := range keys {
			if v := got[k]; v.Exponent() != -2 || v.Coefficient().Int64() != int64(i) {
				t.Fatalf("%s = %v", k, v)
			}
			want := tradecache.SourceLoader
			if _, ok := cached[k]; ok {
				want = tradecache.SourceStore
			}
			if metas[k].Source != want {
				t.Fatalf("%s source %v, want %v", k, metas[k].Source, want)
			}
		}
		// Everything is cached now: no further load.
		if _, _, err := tradecache.GetManyOrLoad(ctx, ns, keys, load); err != nil || len(calls) != 1 {
			t.Fatalf("second call: %v, %d loader calls", err, len(calls))
		}
	})
}

func TestNegativeCachingAndJitter(t *testing.T) {
	eachBackend(t, tradecache.Config{}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		ns := b.cache.Namespace("refdata")
		var calls atomic.Int64
		missing := func(context.Context) (string, error) {
			calls.Add(1)
			return "", fmt.Errorf("no such ISIN: %w", tradecache.ErrNotFound)
		}
		for range 3 {
			_, _, err := tradecache.GetOrLoad(ctx, ns, "XX000", missing, tradecache.WithNegativeTTL(time.Minute))
			if !errors.Is(err, tradecache.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		}
		if calls.Load() != 1 {
			t.Fatalf("a remembered miss still called the loader %d times", calls.Load())
		}
		// Without a negative TTL, a miss is not remembered.
		for range 2 {
			_, _, _ = tradecache.GetOrLoad(ctx, ns, "XX001", missing)
		}
		if calls.Load() != 3 {
			t.Fatalf("loader calls %d, want 3", calls.Load())
		}

		// ±20% jitter spreads TTLs set together.
		ttls := map[time.Duration]bool{}
		for i := range 20 {
			key := fmt.Sprintf("j%d", i)
			if _, _, err := tradecache.GetOrLoad(ctx, ns, key, func(context.Context) (int, error) { return i, nil },
				tradecache.WithTTL(100*time.Second), tradecache.WithJitter(0.2)); err != nil {
				t.Fatal(err)
			}
			ttl, _, _ := ns.TTL(ctx, key)
			if ttl < 79*time.Second || ttl > 121*time.Second {
				t.Fatalf("TTL %v outside 100s ±20%%", ttl)
			}
			ttls[ttl.Round(time.Second)] = true
		}
		if len(ttls) < 5 {
			t.Fatalf("20 jittered TTLs took only %d distinct values", len(ttls))
		}
		if _, _, err := tradecache.GetOrLoad(ctx, ns, "bad", func(context.Context) (int, error) { return 0, nil }, tradecache.WithJitter(1.5)); !errors.Is(err, tradecache.ErrInvalidArgument) {
			t.Fatalf("jitter 1.5: %v", err)
		}
	})
}

func TestMemoize(t *testing.T) {
	eachBackend(t, tradecache.Config{}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		type req struct {
			Portfolio string `json:"portfolio"`
			Horizon   int    `json:"horizon"`
		}
		var calls atomic.Int64
		varOf := tradecache.Memoize(b.cache.Namespace("risk"), func(_ context.Context, r req) (decimal.Decimal, error) {
			calls.Add(1)
			return decimal.New(int64(r.Horizon)*100, -2), nil
		})
		for range 3 {
			v, err := varOf(ctx, req{"P1", 10})
			if err != nil || v.StringFixed(2) != "10.00" {
				t.Fatalf("%v %v", v, err)
			}
		}
		if _, err := varOf(ctx, req{"P1", 1}); err != nil || calls.Load() != 2 {
			t.Fatalf("distinct arguments: %d calls, %v", calls.Load(), err)
		}
	})
	// Keys: stable, readable where possible, and never shared by distinct
	// arguments.
	type pair struct{ A, B string }
	keys := map[string]any{}
	for _, k := range []any{"AAPL", "i:5", 5, int64(5), true, "has space", pair{"a:b", "c"}, pair{"a", "b:c"}} {
		var s string
		var err error
		switch x := k.(type) {
		case string:
			s, err = tradecache.MemoKey(x)
		case int:
			s, err = tradecache.MemoKey(x)
		case int64:
			s, err = tradecache.MemoKey(x)
		case bool:
			s, err = tradecache.MemoKey(x)
		case pair:
			s, err = tradecache.MemoKey(x)
		}
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := keys[s]; dup && fmt.Sprint(prev) != fmt.Sprint(k) {
			t.Fatalf("%v and %v share the key %q", prev, k, s)
		}
		keys[s] = k
	}
	for s, want := range map[string]string{"s:AAPL": "AAPL", "s:i:5": "i:5", "i:5": "5", "b:true": "true"} {
		if fmt.Sprint(keys[s]) != want {
			t.Fatalf("MemoKey(%s) is not %q: %v", want, s, keys)
		}
	}
	// Pinned: a different key here means every memoized value would be
	// missed after an upgrade.
	if k, _ := tradecache.MemoKey(pair{"a", "b"}); k != "h:7ad31b153778d0dfb7735cf6871c5fbb" {
		t.Fatalf("composite key changed: %q", k)
	}
}

// halfDead is an in-memory store in two parts, by the key's last byte; the
// odd part is down, as a dead cluster shard is.
type halfDead struct{ store.Store }

func (h halfDead) Partitions() (int, func(int) string, func(string) int) {
	return 2, func(i int) string { return fmt.Sprint(i) }, func(k string) int { return int(k[len(k)-1]) % 2 }
}

func (h halfDead) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	out, err := h.Store.GetMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	down := fmt.Errorf("%w: shard down", store.ErrUnavailable)
	pe := &store.PartialError{}
	for i, k := range keys {
		if int(k[len(k)-1])%2 == 1 {
			pe.Failed, pe.Errs, out[i] = append(pe.Failed, i), append(pe.Errs, down), nil
		}
	}
	if len(pe.Failed) == 0 {
		return out, nil
	}
	return out, pe
}

func (h halfDead) Delete(ctx context.Context, keys ...string) (int64, error) {
	down := fmt.Errorf("%w: shard down", store.ErrUnavailable)
	pe := &store.PartialError{}
	var live []string
	for i, k := range keys {
		if int(k[len(k)-1])%2 == 1 {
			pe.Failed, pe.Errs = append(pe.Failed, i), append(pe.Errs, down)
		} else {
			live = append(live, k)
		}
	}
	n, err := h.Store.Delete(ctx, live...)
	if err != nil || len(pe.Failed) == 0 {
		return n, err
	}
	return n, pe
}

// With part of the store down, GetMany returns what it could read and
// names the rest, and GetManyOrLoad loads only the keys it could not read
// (or that were missing), never the ones a live part served.
func TestPartialResultsWhenAPartIsDown(t *testing.T) {
	m, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := cachetest.Open(t, tradecache.Config{Environment: tradecache.Testing}, tradecache.WithStore(halfDead{m}))
	ctx := testCtx(t)
	ns := c.Namespace("q")
	keys := []string{"k0", "k1", "k2", "k3", "k4"} // k1, k3 on the dead part; k4 never stored
	for _, k := range keys[:4] {
		if err := m.Set(ctx, "trading:q:"+k, mustEnvelope(t, k), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]string{}
	n, err := ns.GetMany(ctx, keys, &got)
	var pe *tradecache.PartialError
	if !errors.As(err, &pe) || !errors.Is(err, tradecache.ErrUnavailable) || fmt.Sprint(pe.Keys) != "[k1 k3]" {
		t.Fatalf("GetMany = %d, %v; want a PartialError naming k1 and k3", n, err)
	}
	if !errors.Is(pe.KeyErr("k3"), tradecache.ErrUnavailable) || pe.KeyErr("k0") != nil {
		t.Fatalf("KeyErr(k3) = %v, KeyErr(k0) = %v", pe.KeyErr("k3"), pe.KeyErr("k0"))
	}
	if want := "get_many q: 2 keys not read: tradecache: store unavailable: shard down (2)"; !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("message %q, want it to end %q", err, want)
	}
	if n != 2 || got["k0"] != "k0" || got["k2"] != "k2" || len(got) != 2 {
		t.Fatalf("GetMany found %d: %v", n, got)
	}
	var asked []string
	vals, metas, err := tradecache.GetManyOrLoad(ctx, ns, keys, func(_ context.Context, missing []string) (map[string]string, error) {
		asked = missing
		out := map[string]string{}
		for _, k := range missing {
			out[k] = "loaded " + k
		}
		return out, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(asked) != "[k1 k3 k4]" {
		t.Fatalf("the loader was asked for %v, want the unread k1, k3 and the missing k4", asked)
	}
	if vals["k0"] != "k0" || metas["k0"].Source != tradecache.SourceStore || vals["k3"] != "loaded k3" || metas["k3"].Source != tradecache.SourceLoader {
		t.Fatalf("values %v, metas %v", vals, metas)
	}
	// The load's values were written where their reads succeeded (k4, on
	// the live part), and not where they failed (k1, k3): a failed read
	// elsewhere does not stop the batch being cached.
	var k4 string
	if found, err := ns.Get(ctx, "k4", &k4); err != nil || !found || k4 != "loaded k4" {
		t.Fatalf("k4 after the load: %q %v %v, want it cached", k4, found, err)
	}
	// Delete removes the live part's keys and queues the others' deletes
	// (durable invalidation): they may still exist in the store, but this
	// process reads them as absent until the queue is applied.
	n64, err := ns.Delete(ctx, keys...)
	if err != nil || n64 != 3 {
		t.Fatalf("Delete = %d, %v; want 3 (k0, k2, k4), and k1 and k3 queued", n64, err)
	}
	if inv := c.Stats(ctx).Invalidations; inv.Queued != 2 {
		t.Fatalf("queued invalidations %+v, want k1 and k3", inv)
	}
	if ok, _ := ns.Exists(ctx, "k0"); ok {
		t.Fatal("k0 survived the Delete")
	}
	if ok, _ := ns.Exists(ctx, "k1"); !ok {
		t.Fatal("k1, on the dead part, is gone")
	}
}

// gatedLocks holds every SetNX (a lock attempt) until gate is closed, and
// says when one is waiting.
type gatedLocks struct {
	store.Store
	waiting chan struct{}
	gate    chan struct{}
}

func (g gatedLocks) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	g.waiting <- struct{}{}
	<-g.gate
	return g.Store.SetNX(ctx, key, value, ttl)
}

// Regression: a process that missed, then took the lock only after
// another had loaded, stored and released it, loaded a second time. It
// must look again once it holds the lock (a stampede test caught two loads
// across five processes under -race).
func TestLockTakenAfterAnotherLoadedDoesNotLoadAgain(t *testing.T) {
	m, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := testCtx(t)
	a := cachetest.Open(t, tradecache.Config{Environment: tradecache.Testing}, tradecache.WithStore(m))
	g := gatedLocks{Store: m, waiting: make(chan struct{}, 1), gate: make(chan struct{})}
	b := cachetest.Open(t, tradecache.Config{Environment: tradecache.Testing}, tradecache.WithStore(g))
	var loads atomic.Int64
	load := func(context.Context) (int, error) { loads.Add(1); return 7, nil }
	lock := tradecache.WithLock(time.Second, time.Second)
	done := make(chan error, 1)
	go func() {
		_, _, err := tradecache.GetOrLoad(ctx, b.Namespace("q"), "k", load, lock)
		done <- err
	}()
	<-g.waiting // B missed and is about to try the lock
	if v, _, err := tradecache.GetOrLoad(ctx, a.Namespace("q"), "k", load, lock); err != nil || v != 7 {
		t.Fatalf("A: %d, %v", v, err)
	}
	close(g.gate) // A has loaded, stored and released: now B takes the lock
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("loaded %d times: the process that took the lock after the value was stored loaded it again", n)
	}
}

// A stamp is trusted only within bounds: a value "loaded" in 2200 is not
// served (Age would be -1.5 million hours), and a freshness of centuries
// written in 1970 is cut to the policy's TTL, so the loader runs.
func TestStampsFromTheFutureAreNotFresh(t *testing.T) {
	eachBackend(t, tradecache.Config{}, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		w, _ := codec.New(codec.Options{})
		now := time.Now()
		plant := func(v string, st codec.Stamp) {
			enc, err := w.AppendMarshalStamped(nil, "trading:md:k", v, st)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.setRaw(t, "trading:md:k", enc); err != nil {
				t.Fatal(err)
			}
		}
		get := func() (string, tradecache.Meta, error) {
			return tradecache.GetOrLoad(ctx, b.cache.Namespace("md"), "k", func(context.Context) (string, error) { return "loaded", nil },
				tradecache.WithTTL(time.Minute))
		}
		for name, st := range map[string]codec.Stamp{
			"year 2200":          {AsOf: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), FreshFor: time.Minute},
			"1970, fresh 2^62ns": {AsOf: time.Unix(0, 0), FreshFor: 1 << 62},
			"a minute ahead":     {AsOf: now.Add(time.Minute), FreshFor: time.Hour},
		} {
			plant("planted", st)
			if v, meta, err := get(); err != nil || v != "loaded" || meta.Source != tradecache.SourceLoader || meta.Age < 0 {
				t.Fatalf("%s: GetOrLoad = %q %+v %v; want the loader's value", name, v, meta, err)
			}
		}
		// Within the skew a stamp is believed, and its age is never negative.
		plant("near now", codec.Stamp{AsOf: now.Add(time.Second), FreshFor: time.Minute})
		if v, meta, err := get(); err != nil || v != "near now" || meta.Age < 0 {
			t.Fatalf("a stamp a second ahead: %q %+v %v", v, meta, err)
		}
	})
}

// Soft and hard timeouts bound the caller, whatever the loader does: this
// one ignores its ctx. Past the soft timeout a stale value within MaxStale
// is served, past the hard timeout ErrLoadTimeout; the load goes on and
// stores its value for the next caller; a waiter that joined the same load
// gets the same bound.
func TestSoftAndHardTimeoutsBoundTheCaller(t *testing.T) {
	clk := clock.New(time.Now())
	c := redisCache(t, redistest.Start(t), tradecache.Config{Namespaces: map[string]tradecache.NamespaceConfig{
		"md": {MaxStale: time.Hour},
	}}, tradecache.WithClock(clk))
	ctx := context.Background() // no deadline: only the timeouts bound the call
	ns := c.Namespace("md")
	fast := func(context.Context) (string, error) { return "v1", nil }
	if _, _, err := tradecache.GetOrLoad(ctx, ns, "k", fast, tradecache.WithTTL(time.Minute)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute) // v1 is stale now, within MaxStale
	release := make(chan struct{})
	slow := func(context.Context) (string, error) { <-release; return "v2", nil } // ignores its ctx
	const bound = 50 * time.Millisecond
	type result struct {
		v    string
		meta tradecache.Meta
		err  error
		took time.Duration
	}
	call := func(opts ...tradecache.LoadOption) result {
		start := time.Now()
		v, meta, err := tradecache.GetOrLoad(ctx, ns, "k", slow, append(opts, tradecache.WithTTL(time.Minute))...)
		return result{v, meta, err, time.Since(start)}
	}
	results := make(chan result, 2)
	go func() { results <- call(tradecache.WithSoftTimeout(bound)) }()
	go func() { results <- call(tradecache.WithSoftTimeout(bound)) }() // joins the same load
	for range 2 {
		r := <-results
		if r.err != nil || r.v != "v1" || !r.meta.Stale || !errors.Is(r.meta.Err, tradecache.ErrLoadTimeout) {
			t.Fatalf("soft timeout: %q %+v %v; want stale v1 flagged with ErrLoadTimeout", r.v, r.meta, r.err)
		}
		if r.took > 5*time.Second { // the bound is 50ms; this only catches a wait on the loader
			t.Fatalf("soft timeout of %v took %v", bound, r.took)
		}
	}
	// Without a stale value, the hard timeout bounds the caller.
	r := func() result {
		start := time.Now()
		v, meta, err := tradecache.GetOrLoad(ctx, ns, "other", slow, tradecache.WithHardTimeout(bound))
		return result{v, meta, err, time.Since(start)}
	}()
	if !errors.Is(r.err, tradecache.ErrLoadTimeout) || r.took > 5*time.Second {
		t.Fatalf("hard timeout: %q %v after %v; want ErrLoadTimeout", r.v, r.err, r.took)
	}
	// The load finishes in the background and stores its value.
	close(release)
	var (
		v    string
		meta tradecache.Meta
		err  error
	)
	if !testkit.Poll(10*time.Second, func() bool {
		v, meta, err = tradecache.GetOrLoad(ctx, ns, "k", fast, tradecache.WithTTL(time.Minute))
		return err == nil && v == "v2" && meta.Source == tradecache.SourceStore
	}) {
		t.Fatalf("the background load's value was not stored: %q %+v %v", v, meta, err)
	}
}

// GetManyOrLoad keeps the same bounds: past the soft timeout keys with a
// stale value get it, past the hard timeout the rest fail with ErrLoadTimeout,
// and the batch load goes on to cache its values.
func TestGetManyOrLoadTimeouts(t *testing.T) {
	clk := clock.New(time.Now())
	c := redisCache(t, redistest.Start(t), tradecache.Config{Namespaces: map[string]tradecache.NamespaceConfig{
		"md": {MaxStale: time.Hour},
	}}, tradecache.WithClock(clk))
	ctx := context.Background()
	ns := c.Namespace("md")
	fast := func(_ context.Context, keys []string) (map[string]string, error) {
		out := map[string]string{}
		for _, k := range keys {
			out[k] = "v1"
		}
		return out, nil
	}
	if _, _, err := tradecache.GetManyOrLoad(ctx, ns, []string{"a"}, fast, tradecache.WithTTL(time.Minute)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute) // a is stale, b was never loaded
	release := make(chan struct{})
	slow := func(_ context.Context, keys []string) (map[string]string, error) {
		<-release // ignores its ctx
		out := map[string]string{}
		for _, k := range keys {
			out[k] = "v2"
		}
		return out, nil
	}
	start := time.Now()
	vals, metas, err := tradecache.GetManyOrLoad(ctx, ns, []string{"a", "b"}, slow,
		tradecache.WithTTL(time.Minute), tradecache.WithSoftTimeout(20*time.Millisecond), tradecache.WithHardTimeout(50*time.Millisecond))
	if took := time.Since(start); took > 5*time.Second || !errors.Is(err, tradecache.ErrLoadTimeout) ||
		vals["a"] != "v1" || !metas["a"].Stale || !errors.Is(metas["a"].Err, tradecache.ErrLoadTimeout) {
		t.Fatalf("after %v: %v %+v %v; want a stale and b missing with ErrLoadTimeout", took, vals, metas, err)
	}
	if _, ok := vals["b"]; ok {
		t.Fatalf("b has a value: %v", vals)
	}
	close(release)
	failing := func(context.Context, []string) (map[string]string, error) { return nil, errors.New("not this loader") }
	if !testkit.Poll(10*time.Second, func() bool {
		vals, metas, err = tradecache.GetManyOrLoad(ctx, ns, []string{"a", "b"}, failing, tradecache.WithTTL(time.Minute))
		return err == nil && vals["a"] == "v2" && vals["b"] == "v2" && metas["b"].Source == tradecache.SourceStore
	}) {
		t.Fatalf("the background batch load was not cached: %v %+v %v", vals, metas, err)
	}
}

// GetManyOrLoad refuses the options it cannot honour, rather than
// ignoring them as it did: WithLock and WithEarlyRefresh are GetOrLoad's.
func TestGetManyOrLoadRefusesOptionsItDoesNotHonour(t *testing.T) {
	c := cachetest.Open(t, tradecache.Config{})
	ns := c.Namespace("batch")
	calls := 0
	load := func(_ context.Context, missing []string) (map[string]int, error) {
		calls++
		return map[string]int{}, nil
	}
	for name, opt := range map[string]tradecache.LoadOption{
		"WithLock": tradecache.WithLock(0, 0), "WithEarlyRefresh": tradecache.WithEarlyRefresh(1),
	} {
		if _, _, err := tradecache.GetManyOrLoad(context.Background(), ns, []string{"a"}, load, opt); !errors.Is(err, tradecache.ErrInvalidArgument) {
			t.Errorf("GetManyOrLoad with %s: %v, want ErrInvalidArgument", name, err)
		}
	}
	if calls != 0 {
		t.Fatalf("the loader ran %d times for refused calls", calls)
	}
}

// Round trips per path, counted by the server (INFO commandstats): a cold
// GetOrLoad is one GET and one SET; a warm one is one GET. Before, the
// cold path read the store twice (once more before the load).
func TestGetOrLoadRoundTrips(t *testing.T) {
	srv := redistest.Start(t)
	off := false
	c, err := tradecache.New(context.Background(), tradecache.Config{Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr},
		LogSlowOps: &off, PublishStats: &off, HealthInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ns := c.Namespace("rt")
	calls := func(cmd string) int {
		info, err := redistest.DoString(srv.Addr, "INFO", "commandstats")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":calls="); ok {
				n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
				return n
			}
		}
		return 0
	}
	load := func(context.Context) (int, error) { return 7, nil }
	gets, sets := calls("get"), calls("set")
	if _, _, err := tradecache.GetOrLoad(context.Background(), ns, "cold", load); err != nil {
		t.Fatal(err)
	}
	if g, s := calls("get")-gets, calls("set")-sets; g != 1 || s != 1 {
		t.Fatalf("a cold GetOrLoad: %d GETs and %d SETs, want 1 and 1", g, s)
	}
	gets = calls("get")
	if _, _, err := tradecache.GetOrLoad(context.Background(), ns, "cold", load); err != nil {
		t.Fatal(err)
	}
	if g := calls("get") - gets; g != 1 {
		t.Fatalf("a warm GetOrLoad: %d GETs, want 1", g)
	}
}

// Identical concurrent GetManyOrLoad calls share one load, as GetOrLoad's
// callers of one key do: 8 calls ran the loader 8 times before.
func TestGetManyOrLoadSharesOneLoad(t *testing.T) {
	c := cachetest.Open(t, tradecache.Config{})
	ns := c.Namespace("shared")
	var calls atomic.Int64
	release := make(chan struct{})
	load := func(_ context.Context, missing []string) (map[string]int, error) {
		calls.Add(1)
		<-release
		out := map[string]int{}
		for i, k := range missing {
			out[k] = i
		}
		return out, nil
	}
	var wg sync.WaitGroup
	var entered atomic.Int64
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			entered.Add(1)
			keys := []string{"a", "b", "c"}
			if i%2 == 1 {
				keys = []string{"c", "a", "b"} // the same set in another order
			}
			vals, _, err := tradecache.GetManyOrLoad(context.Background(), ns, keys, load)
			if err == nil && len(vals) != 3 {
				err = fmt.Errorf("%d values", len(vals))
			}
			errs <- err
		}()
	}
	testkit.Poll(5*time.Second, func() bool { return calls.Load() > 0 && entered.Load() >= 8 })
	time.Sleep(200 * time.Millisecond) // let the other callers join the load
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// One load; a second only if a caller was held more than 200 ms
	// between its read and joining (a busy machine), never one per caller.
	if n := calls.Load(); n > 2 {
		t.Fatalf("8 identical calls ran the loader %d times, want 1", n)
	}
}

// TestLockWaitersWakeOnRelease holds one process's WithLock load for a
// second while another process waits on it. The waiter used to look for
// the value with a GET every 5 ms (about 200 in that second); it is now
// woken by the holder's release (store.ReleaseWatcher) and looks only
// every lockLook meanwhile, in case an announcement is missed. It must
// still get the holder's value without loading.
func TestLockWaitersWakeOnRelease(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testCtx(t)
	holder := redisCache(t, srv, tradecache.Config{KeyPrefix: "wake"})
	waiter := redisCache(t, srv, tradecache.Config{KeyPrefix: "wake"})
	admin := rawClient(t, srv.Addr)
	lock := tradecache.WithLock(10*time.Second, 10*time.Second)
	started, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		_, _, err := tradecache.GetOrLoad(ctx, holder.Namespace("risk"), "VaR", func(context.Context) (int, error) {
			close(started)
			<-release
			return 42, nil
		}, lock)
		held <- err
	}()
	<-started
	type result struct {
		v    int
		meta tradecache.Meta
		err  error
	}
	var waiterLoads atomic.Int64
	got := make(chan result, 1)
	gets0 := commandCalls(t, admin, "get")
	go func() {
		v, meta, err := tradecache.GetOrLoad(ctx, waiter.Namespace("risk"), "VaR", func(context.Context) (int, error) {
			waiterLoads.Add(1)
			return -1, nil
		}, lock)
		got <- result{v, meta, err}
	}()
	time.Sleep(time.Second) // the wait measured: the count below can only be lower on a slow machine
	gets := commandCalls(t, admin, "get") - gets0
	close(release)
	r := <-got
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	t.Logf("a waiter made %d GETs in the 1 s it waited on another process's lock", gets)
	if r.err != nil || r.v != 42 || r.meta.Source != tradecache.SourceStore || waiterLoads.Load() != 0 {
		t.Fatalf("waiter got %d %+v %v after %d loads of its own; want the holder's 42 from the store", r.v, r.meta, r.err, waiterLoads.Load())
	}
	if gets > 20 {
		t.Fatalf("the waiter made %d GETs in 1 s: it polls rather than waits for the release", gets)
	}
}
