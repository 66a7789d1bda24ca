package bars_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/trading"
	"github.com/tradecache/tradecache/trading/bars"
	"github.com/tradecache/tradecache/trading/feed"
)

// Build folds trades into bars offline, by the rule the workers follow:
// the third trade opens the next second and makes the first bar final.
func ExampleBuild() {
	t0 := time.Date(2026, 12, 5, 14, 30, 0, 0, time.UTC)
	d := decimal.RequireFromString
	got, _ := bars.Build([]trading.Trade{
		{Symbol: "AAPL", Seq: 1, At: t0.Add(100 * time.Millisecond), Price: d("189.10"), Size: d("100")},
		{Symbol: "AAPL", Seq: 2, At: t0.Add(700 * time.Millisecond), Price: d("189.30"), Size: d("300")},
		{Symbol: "AAPL", Seq: 3, At: t0.Add(1200 * time.Millisecond), Price: d("189.20"), Size: d("50")},
	}, bars.Options{Intervals: []time.Duration{time.Second}})
	b := got["1s"][0]
	fmt.Println(b.Start.Format("15:04:05"), b.Open, b.High, b.Low, b.Close, b.Volume, b.VWAP, b.Trades)
	// Output: 14:30:00 189.1 189.3 189.1 189.3 400 189.25 2
}

// A worker builds bars from the trades published through the feed, and
// Market.IntervalBar reads the last final one, like any market data.
func ExampleWorker() {
	ctx := context.Background()
	cache, err := tradecache.New(ctx, tradecache.Config{}) // the embedded store; give it Redis in production
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	f := feed.New(cache, feed.Options{})
	t0 := time.Date(2026, 12, 5, 14, 30, 0, 0, time.UTC)
	for i := range 30 {
		_, _ = f.PublishTrade(ctx, trading.Trade{Symbol: "AAPL", Seq: uint64(i + 1), At: t0.Add(time.Duration(i) * 100 * time.Millisecond),
			Price: decimal.New(18900+int64(i), -2), Size: decimal.NewFromInt(10)})
	}
	w, err := bars.NewWorker(cache, []string{"AAPL"}, bars.WorkerOptions{Name: "w1", Options: bars.Options{Intervals: []time.Duration{time.Second}}})
	if err != nil {
		panic(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(wctx) }()
	for w.Stats().Bars < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
	b, _, _ := trading.NewMarket(cache).IntervalBar(ctx, "AAPL", time.Second)
	fmt.Println(b.Start.Format("15:04:05"), b.Open, b.Close, b.Volume, b.Trades)
	// Output: 14:30:01 189.1 189.19 100 10
}
