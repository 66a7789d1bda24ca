package trading_test

import (
	"context"
	"testing"
	"time"

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
