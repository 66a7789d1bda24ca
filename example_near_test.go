package tradecache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
)

// A near tier is configured per namespace. On Redis, GetNear serves a
// held, decoded value in process (tens of nanoseconds) until any instance
// changes the key; on the in-memory store, as here, it is a plain Get.
func ExampleGetNear() {
	ctx := context.Background()
	cache, _ := tradecache.New(ctx, tradecache.Config{
		// Redis: tradecache.RedisConfig{URL: "redis://10.0.0.5:6379"},
		Namespaces: map[string]tradecache.NamespaceConfig{
			tradecache.NamespaceMarketData: {Near: &tradecache.NearConfig{MaxEntries: 50_000, MaxAge: time.Minute}},
		},
	})
	defer cache.Close()

	quotes := cache.Namespace(tradecache.NamespaceMarketData)
	_ = quotes.Set(ctx, "AAPL", decimal.RequireFromString("150.00"), 0)
	px, found, err := tradecache.GetNear[decimal.Decimal](ctx, quotes, "AAPL")
	fmt.Println(px.StringFixed(2), found, err)
	// Output: 150.00 true <nil>
}

// GetManyNear is the batch form: held keys come from the near tier, the
// rest are read in one tracked round trip and kept. Missing keys are
// absent from the map.
func ExampleGetManyNear() {
	ctx := context.Background()
	cache, _ := tradecache.New(ctx, tradecache.Config{
		Namespaces: map[string]tradecache.NamespaceConfig{
			tradecache.NamespaceMarketData: {Near: &tradecache.NearConfig{}},
		},
	})
	defer cache.Close()

	quotes := cache.Namespace(tradecache.NamespaceMarketData)
	_ = quotes.SetMany(ctx, map[string]any{
		"AAPL": decimal.RequireFromString("150.00"),
		"MSFT": decimal.RequireFromString("410.10"),
	}, 0)
	px, err := tradecache.GetManyNear[decimal.Decimal](ctx, quotes, []string{"AAPL", "MSFT", "GOOG"})
	fmt.Println(len(px), err, px["AAPL"].StringFixed(2), px["MSFT"].StringFixed(2))
	// Output: 2 <nil> 150.00 410.10
}
