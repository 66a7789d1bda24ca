package tradecache_test

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
)

// Values in several namespaces carry the tag of the price they were
// computed from; one InvalidateTag makes all of them absent, and the next
// GetOrLoad computes afresh.
func ExampleCache_InvalidateTag() {
	ctx := context.Background()
	cache, err := tradecache.New(ctx, tradecache.Config{})
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	risk := tradecache.Of[decimal.Decimal](cache, tradecache.NamespaceRisk)
	analytics := cache.Namespace("analytics")

	price := decimal.RequireFromString("189.25")
	exposure := func(context.Context) (decimal.Decimal, error) { return price.Mul(decimal.NewFromInt(100)), nil }
	v, _, _ := risk.GetOrLoad(ctx, "P-1:exposure", exposure, tradecache.WithTags("sym:AAPL"))
	_ = analytics.Set(ctx, "AAPL:last", price, 0, tradecache.Tagged("sym:AAPL"))
	fmt.Println("exposure", v)

	price = decimal.RequireFromString("190.00") // AAPL moved
	_ = cache.InvalidateTag(ctx, "sym:AAPL")

	var last decimal.Decimal
	found, _ := analytics.Get(ctx, "AAPL:last", &last)
	fmt.Println("AAPL:last still there:", found)
	v, meta, _ := risk.GetOrLoad(ctx, "P-1:exposure", exposure, tradecache.WithTags("sym:AAPL"))
	fmt.Println("exposure", v, "from", meta.Source)
	// Output:
	// exposure 18925
	// AAPL:last still there: false
	// exposure 19000 from loader
}
