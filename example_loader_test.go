package tradecache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
)

// GetOrLoad calls the loader on a miss, once however many goroutines miss
// together, and says where each result came from.
func ExampleGetOrLoad() {
	ctx := context.Background()
	cache, _ := tradecache.New(ctx, tradecache.Config{})
	defer cache.Close()

	quotes := cache.Namespace(tradecache.NamespaceMarketData)
	fetch := func(context.Context) (decimal.Decimal, error) { return decimal.RequireFromString("150.00"), nil }

	px, meta, err := tradecache.GetOrLoad(ctx, quotes, "AAPL", fetch)
	fmt.Println(px.StringFixed(2), meta.Source, meta.Stale, err)
	px, meta, err = tradecache.GetOrLoad(ctx, quotes, "AAPL", fetch)
	fmt.Println(px.StringFixed(2), meta.Source, meta.Stale, err)
	// Output:
	// 150.00 loader false <nil>
	// 150.00 store false <nil>
}

// With MaxStale, a failing loader is answered with the last value, flagged
// stale and with the error that caused it; past the bound, with the error.
func ExampleGetOrLoad_failSafe() {
	ctx := context.Background()
	cache, _ := tradecache.New(ctx, tradecache.Config{Namespaces: map[string]tradecache.NamespaceConfig{
		"refdata": {MaxStale: 24 * time.Hour},
	}})
	defer cache.Close()
	ns := cache.Namespace("refdata")

	_, _, _ = tradecache.GetOrLoad(ctx, ns, "XNAS", func(context.Context) (string, error) { return "NASDAQ", nil },
		tradecache.WithTTL(time.Millisecond))
	time.Sleep(5 * time.Millisecond) // now past its freshness
	name, meta, err := tradecache.GetOrLoad(ctx, ns, "XNAS", func(context.Context) (string, error) {
		return "", errors.New("reference service down")
	})
	fmt.Println(name, meta.Stale, meta.Err, err)
	// Output: NASDAQ true reference service down <nil>
}

// Memoize is the replaced layer's @cache_result decorator as a function.
func ExampleMemoize() {
	ctx := context.Background()
	cache, _ := tradecache.New(ctx, tradecache.Config{})
	defer cache.Close()

	calls := 0
	value := tradecache.Memoize(cache.Namespace(tradecache.NamespacePortfolio), func(_ context.Context, id string) (decimal.Decimal, error) {
		calls++
		return decimal.RequireFromString("1250000.50"), nil
	})
	v1, _ := value(ctx, "P-1001")
	v2, _ := value(ctx, "P-1001")
	fmt.Println(v1.StringFixed(2), v2.StringFixed(2), calls)
	// Output: 1250000.50 1250000.50 1
}

// GetManyOrLoad loads only what is missing, in one call.
func ExampleGetManyOrLoad() {
	ctx := context.Background()
	cache, _ := tradecache.New(ctx, tradecache.Config{})
	defer cache.Close()
	ns := cache.Namespace(tradecache.NamespaceMarketData)
	_ = ns.Set(ctx, "AAPL", decimal.RequireFromString("150.00"), 0)

	px, _, err := tradecache.GetManyOrLoad(ctx, ns, []string{"AAPL", "MSFT"},
		func(_ context.Context, missing []string) (map[string]decimal.Decimal, error) {
			fmt.Println("loading", missing)
			return map[string]decimal.Decimal{"MSFT": decimal.RequireFromString("410.10")}, nil
		})
	fmt.Println(px["AAPL"].StringFixed(2), px["MSFT"].StringFixed(2), err)
	// Output:
	// loading [MSFT]
	// 150.00 410.10 <nil>
}

// steppedClock is a Clock the caller moves.
type steppedClock struct{ t time.Time }

func (c *steppedClock) Now() time.Time { return c.t }

// A Cache reads freshness and staleness off its Clock, so a test moves
// time instead of sleeping.
func ExampleWithClock() {
	ctx := context.Background()
	clk := &steppedClock{t: time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)}
	cache, _ := tradecache.New(ctx, tradecache.Config{}, tradecache.WithClock(clk))
	defer cache.Close()
	ns := cache.Namespace("refdata")
	load := func(context.Context) (string, error) { return "NASDAQ", nil }

	_, meta, _ := tradecache.GetOrLoad(ctx, ns, "XNAS", load, tradecache.WithTTL(time.Minute))
	fmt.Println(meta.Source)
	clk.t = clk.t.Add(59 * time.Second)
	_, meta, _ = tradecache.GetOrLoad(ctx, ns, "XNAS", load, tradecache.WithTTL(time.Minute))
	fmt.Println(meta.Source, meta.Age)
	clk.t = clk.t.Add(time.Second)
	_, meta, _ = tradecache.GetOrLoad(ctx, ns, "XNAS", load, tradecache.WithTTL(time.Minute))
	fmt.Println(meta.Source)
	// Output:
	// loader
	// store 59s
	// loader
}

// A loader that hangs does not hang its callers: past the hard timeout
// the call returns (the stale value if there is one, else ErrLoadTimeout),
// and the load goes on to cache its value for the next caller.
func ExampleWithHardTimeout() {
	ctx := context.Background()
	cache, _ := tradecache.New(ctx, tradecache.Config{})
	defer cache.Close()
	ns := cache.Namespace("refdata")
	release := make(chan struct{})
	slow := func(context.Context) (string, error) { <-release; return "NASDAQ", nil } // ignores its ctx

	_, _, err := tradecache.GetOrLoad(ctx, ns, "XNAS", slow, tradecache.WithHardTimeout(10*time.Millisecond))
	fmt.Println(errors.Is(err, tradecache.ErrLoadTimeout))
	close(release)
	// Output: true
}

// A failed call is one kind of error: refused before anything was sent
// (*ArgumentError), a load that gave nothing (*LoadError, wrapping the
// loader's own error), or a store that failed (*OpError). Only the last
// says anything about Redis.
func ExampleLoadError() {
	ctx := context.Background()
	cache, _ := tradecache.New(ctx, tradecache.Config{})
	defer cache.Close()
	risk := cache.Namespace(tradecache.NamespaceRisk)

	errDB := errors.New("positions database down")
	_, _, err := tradecache.GetOrLoad(ctx, risk, "P1:VaR", func(context.Context) (decimal.Decimal, error) {
		return decimal.Decimal{}, errDB
	})
	var le *tradecache.LoadError
	fmt.Println(errors.As(err, &le), errors.Is(err, errDB))

	err = risk.Set(ctx, "P1:VaR", 1, -time.Second)
	var ae *tradecache.ArgumentError
	fmt.Println(errors.As(err, &ae), errors.Is(err, tradecache.ErrInvalidArgument))

	var oe *tradecache.OpError
	fmt.Println(errors.As(err, &oe))
	// Output:
	// true true
	// true true
	// false
}
