package generated_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/examples/generated"
)

// A type with generated methods is used as any other: the cache finds the
// methods and skips reflection.
func Example() {
	ctx := context.Background()
	c, err := tradecache.New(ctx, tradecache.Config{}) // the in-memory store
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ticks := c.Namespace(tradecache.NamespaceMarketData)
	t := generated.Tick{Symbol: "AAPL", Bid: decimal.RequireFromString("150.00"), Ask: decimal.RequireFromString("150.02"),
		Seq: 1, At: time.Date(2026, 12, 4, 15, 30, 0, 0, time.UTC)}
	if err := ticks.Set(ctx, "AAPL", t, time.Minute); err != nil {
		panic(err)
	}
	var got generated.Tick
	if _, err := ticks.Get(ctx, "AAPL", &got); err != nil {
		panic(err)
	}
	fmt.Println(got.Symbol, codec.DecimalString(got.Bid), codec.DecimalString(got.Ask), got.At.Format(time.RFC3339))
	// Output: AAPL 150.00 150.02 2026-12-04T15:30:00Z
}
