package tradecache_test

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
)

// A typed handle reads and writes values of one type: no destination
// pointer, no any, no type parameter at each call.
func ExampleOf() {
	ctx := context.Background()
	cache, err := tradecache.New(ctx, tradecache.Config{})
	if err != nil {
		panic(err)
	}
	defer cache.Close()

	type Position struct {
		Account string          `json:"account"`
		Symbol  string          `json:"symbol"`
		Qty     decimal.Decimal `json:"qty"`
	}
	positions := tradecache.Of[Position](cache, tradecache.NamespacePortfolio)
	_ = positions.Set(ctx, "acct-1:AAPL", Position{"acct-1", "AAPL", decimal.RequireFromString("100")}, time.Minute)
	_ = positions.Set(ctx, "acct-1:MSFT", Position{"acct-1", "MSFT", decimal.RequireFromString("-25.5")}, time.Minute)

	p, found, _ := positions.Get(ctx, "acct-1:AAPL")
	fmt.Println(found, p.Symbol, p.Qty)

	all, _ := positions.GetMany(ctx, []string{"acct-1:AAPL", "acct-1:MSFT", "acct-1:TSLA"})
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Println(k, all[k].Qty)
	}
	// Output:
	// true AAPL 100
	// acct-1:AAPL 100
	// acct-1:MSFT -25.5
}

// GetManyFunc hands each value found to a function with its key's index,
// for a batch reader that keeps values its own way (here a slice in the
// keys' order) and has no use for a map.
func ExampleHandle_GetManyFunc() {
	ctx := context.Background()
	cache, err := tradecache.New(ctx, tradecache.Config{})
	if err != nil {
		panic(err)
	}
	defer cache.Close()

	prices := tradecache.Of[decimal.Decimal](cache, tradecache.NamespaceMarketData)
	_ = prices.Set(ctx, "AAPL", decimal.RequireFromString("150.02"), time.Minute)
	_ = prices.Set(ctx, "MSFT", decimal.RequireFromString("410.10"), time.Minute)

	symbols := []string{"MSFT", "TSLA", "AAPL"}
	last := make([]string, len(symbols))
	_ = prices.GetManyFunc(ctx, symbols, func(i int, p decimal.Decimal) { last[i] = p.StringFixed(2) })
	fmt.Printf("%q\n", last)
	// Output:
	// ["410.10" "" "150.02"]
}
