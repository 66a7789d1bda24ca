package trading_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/trading"
)

func memCache() *tradecache.Cache {
	c, err := tradecache.New(context.Background(), tradecache.Config{}) // the embedded store
	if err != nil {
		panic(err)
	}
	return c
}

// A late publisher cannot overwrite a newer quote.
func ExampleMarket_CacheQuote() {
	ctx := context.Background()
	c := memCache()
	defer c.Close()
	m := trading.NewMarket(c)

	newer, _ := m.CacheQuote(ctx, trading.Quote{Symbol: "AAPL", Bid: decimal.RequireFromString("150.02"), Seq: 42})
	older, _ := m.CacheQuote(ctx, trading.Quote{Symbol: "AAPL", Bid: decimal.RequireFromString("149.90"), Seq: 41})
	q, _, _ := m.Quote(ctx, "AAPL")
	fmt.Println(newer, older, q.Bid.StringFixed(2), q.Seq)
	// Output: true false 150.02 42
}

// Quotes for many symbols in one round trip.
func ExampleMarket_Quotes() {
	ctx := context.Background()
	c := memCache()
	defer c.Close()
	m := trading.NewMarket(c)
	for i, s := range []string{"AAPL", "MSFT"} {
		_, _ = m.CacheQuote(ctx, trading.Quote{Symbol: s, Bid: decimal.New(int64(15000+i), -2), Seq: 1})
	}
	qs, _ := m.Quotes(ctx, []string{"AAPL", "MSFT", "GOOG"})
	fmt.Println(len(qs), qs["MSFT"].Bid.StringFixed(2))
	// Output: 2 150.01
}

// Calculations are invalidated by one call on a position change, and
// snapshot reads never mix generations silently.
func ExamplePortfolios() {
	ctx := context.Background()
	c := memCache()
	defer c.Close()
	p := trading.NewPortfolios(c)

	gen, _ := p.Generation(ctx, "P-1001")
	_ = p.CachePortfolioCalculation(ctx, "P-1001", "value", decimal.RequireFromString("1250000.50"), gen)
	// VaR depends on AAPL's quote: read its token with the portfolio's
	// before computing, so that a quote change meanwhile is not lost.
	tok, _ := p.Generation(ctx, "P-1001", trading.DependsOn("AAPL"))
	_ = p.CacheRiskCalculation(ctx, "P-1001", "VaR", decimal.RequireFromString("-23456.78"), tok)
	s, _ := p.Read(ctx, "P-1001", []string{"value"}, []string{"VaR"})
	fmt.Println(s.Values["value"].StringFixed(2), s.Values["VaR"].StringFixed(2))

	_ = p.InvalidateSymbol(ctx, "AAPL") // AAPL moved: VaR depends on it, value does not
	s, _ = p.Read(ctx, "P-1001", []string{"value"}, []string{"VaR"})
	fmt.Println(len(s.Values), s.Stale)

	_ = p.InvalidatePortfolio(ctx, "P-1001") // a trade: everything of P-1001
	_, ok, _ := p.PortfolioCalculation(ctx, "P-1001", "value")
	fmt.Println(ok)
	// Output:
	// 1250000.50 -23456.78
	// 1 [VaR]
	// false
}

// Sessions slide with each touch, up to a hard lifetime.
func ExampleSessions() {
	ctx := context.Background()
	c := memCache()
	defer c.Close()
	s, _ := trading.NewSessions(c, 15*time.Minute, 12*time.Hour)

	_ = s.Create(ctx, trading.Session{ID: "tok-3f9a", User: "trader-7"})
	sess, ok, _ := s.Touch(ctx, "tok-3f9a") // one round trip: read and slide
	fmt.Println(ok, sess.User)
	_ = s.Delete(ctx, "tok-3f9a")
	_, ok, _ = s.Get(ctx, "tok-3f9a")
	fmt.Println(ok)
	// Output:
	// true trader-7
	// false
}

// Warm fills a namespace before the open; failures are counted, not fatal.
func ExampleWarm() {
	ctx := context.Background()
	c := memCache()
	defer c.Close()
	sum, _ := trading.Warm(ctx, c.Namespace("refdata"), []string{"US0378331005", "US5949181045", "BAD"},
		func(ctx context.Context, isin string) (string, error) {
			if isin == "BAD" {
				return "", fmt.Errorf("unknown ISIN")
			}
			return "ref:" + isin, nil
		}, trading.WarmOptions{Concurrency: 2})
	fmt.Println(sum.Loaded, sum.Failed, sum.Skipped)
	// Output: 2 1 0
}
