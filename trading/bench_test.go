package trading_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/trading"
)

// Market.Quote on a near hit, beside the bare GetNear it wraps: the
// difference is the version check (the high-water mark).
func BenchmarkMarketQuoteNearHit(b *testing.B) {
	srv := redistest.Start(b)
	ctx := context.Background()
	off := false
	c, err := tradecache.New(ctx, tradecache.Config{LogSlowOps: &off, Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr},
		Namespaces: map[string]tradecache.NamespaceConfig{tradecache.NamespaceMarketData: {Near: &tradecache.NearConfig{}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	m := trading.NewMarket(c)
	if _, err := m.CacheQuote(ctx, trading.Quote{Symbol: "AAPL", Bid: decimal.RequireFromString("150.00"), Seq: 1}); err != nil {
		b.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // past the own-write window: reads are kept
	for range 3 {
		if _, _, err := m.Quote(ctx, "AAPL"); err != nil {
			b.Fatal(err)
		}
	}
	ns := c.Namespace(tradecache.NamespaceMarketData)
	b.Run("GetNear", func(b *testing.B) {
		for b.Loop() {
			_, _, _ = tradecache.GetNear[trading.Quote](ctx, ns, "AAPL:quote")
		}
	})
	b.Run("Market.Quote", func(b *testing.B) {
		for b.Loop() {
			_, _, _ = m.Quote(ctx, "AAPL")
		}
	})
}

// Market.Quotes of 100 symbols beside the raw client's MGET of the same
// keys (bytes only), at 1 and 50 goroutines, in one run:
// go test -run '^$' -bench MarketQuotes100 ./trading. Goal: at least
// 0.55x raw at 1 goroutine and 0.40x at 50.
func BenchmarkMarketQuotes100(b *testing.B) {
	srv := redistest.Start(b)
	ctx := context.Background()
	off := false
	c, err := tradecache.New(ctx, tradecache.Config{LogSlowOps: &off, Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true,
		PipelineMultiplex: 1, MaxFlushDelay: tradecache.DefaultMaxFlushDelay})
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	m := trading.NewMarket(c)
	symbols := make([]string, 100)
	keys := make([]string, 100)
	for i := range symbols {
		symbols[i] = fmt.Sprintf("SYM%03d", i)
		q := benchQuote()
		q.Symbol, q.Seq = symbols[i], uint64(i+1)
		if _, err := m.CacheQuote(ctx, q); err != nil {
			b.Fatal(err)
		}
		keys[i] = tradecache.DefaultKeyPrefix + ":" + tradecache.NamespaceMarketData + ":" + trading.Key(symbols[i], trading.KindQuote)
	}
	if n, err := raw.Do(ctx, raw.B().Exists().Key(keys...).Build()).AsInt64(); err != nil || n != 100 {
		b.Fatalf("raw keys: %d of 100 exist (%v): the key layout changed", n, err)
	}
	each := func(b *testing.B, goroutines int, op func() error) {
		b.ReportAllocs()
		if goroutines > 1 {
			b.SetParallelism(max(1, goroutines/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := op(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		} else {
			for b.Loop() {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "keys/s")
	}
	for _, g := range []int{1, 50} {
		b.Run(fmt.Sprintf("raw-MGET/goroutines=%d", g), func(b *testing.B) {
			each(b, g, func() error {
				_, err := raw.Do(ctx, raw.B().Mget().Key(keys...).Build()).AsStrSlice()
				return err
			})
		})
		b.Run(fmt.Sprintf("Market.Quotes/goroutines=%d", g), func(b *testing.B) {
			each(b, g, func() error {
				qs, err := m.Quotes(ctx, symbols)
				if err == nil && len(qs) != 100 {
					err = fmt.Errorf("%d quotes of 100", len(qs))
				}
				return err
			})
		})
	}
}
