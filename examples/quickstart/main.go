// Command quickstart is the README's first program: a cache on the
// embedded in-memory store (set REDIS_URL to run it on Redis), a value
// read back exactly, a loader called once, and a version-guarded quote.
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/trading"
)

func main() {
	ctx := context.Background()
	cfg, err := tradecache.ConfigFromEnv() // REDIS_URL, REDIS_HOST, CACHE_*; none: in-memory
	if err != nil {
		log.Fatal(err)
	}
	cache, err := tradecache.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()

	prices := tradecache.Of[decimal.Decimal](cache, tradecache.NamespaceMarketData) // values of one type
	if err := prices.Set(ctx, "AAPL:last", decimal.RequireFromString("150.00"), 0); err != nil {
		log.Fatal(err)
	}
	last, found, err := prices.Get(ctx, "AAPL:last")
	fmt.Println(found, err, last.StringFixed(-last.Exponent())) // true <nil> 150.00

	venues := tradecache.Of[string](cache, "refdata")
	load := func(ctx context.Context) (string, error) { return "NASDAQ", nil }
	venue, meta, err := venues.GetOrLoad(ctx, "AAPL", load)
	fmt.Println(venue, meta.Source, err) // NASDAQ loader <nil>

	m := trading.NewMarket(cache)
	q := trading.Quote{Symbol: "AAPL", Bid: decimal.RequireFromString("150.00"), Ask: decimal.RequireFromString("150.02"), Seq: 7}
	applied, err := m.CacheQuote(ctx, q)
	fmt.Println(applied, err) // true <nil>
	q.Seq = 6                 // a late publisher
	applied, _ = m.CacheQuote(ctx, q)
	got, _, _ := m.Quote(ctx, "AAPL")
	fmt.Println(applied, got.Seq) // false 7
}
