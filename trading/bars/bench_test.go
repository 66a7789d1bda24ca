package bars_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/trading"
	"github.com/tradecache/tradecache/trading/bars"
	"github.com/tradecache/tradecache/trading/feed"
)

// BenchmarkWorker measures one worker against one redis-server: how fast
// it folds a backlog of 20,000 trades of 10 symbols into 1 s and 1 min
// bars (trades/s and bars/s), and, with trades then published at a
// steady 2,000 a second, the lag from the append of the trade that closes
// a bar to the bar's publication (p50 and p99).
//
//	go test -run '^$' -bench Worker -benchtime 1x ./trading/bars
func BenchmarkWorker(b *testing.B) {
	srv := redistest.Start(b)
	off := false
	c, err := tradecache.New(context.Background(), tradecache.Config{LogSlowOps: &off, OpTimeout: time.Second,
		Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var symbols []string
	for i := range 10 {
		symbols = append(symbols, fmt.Sprintf("S%02d", i))
	}
	f := feed.New(c, feed.Options{})
	for b.Loop() {
		for _, s := range symbols {
			if _, err := c.Namespace(tradecache.NamespaceMarketData).Delete(ctx, s+":trade"); err != nil {
				b.Fatal(err)
			}
		}
		all, _ := trades(rand.New(rand.NewPCG(3, 4)), symbols, 2000)
		for lo := 0; lo < len(all); lo += 500 {
			if _, err := f.PublishTrades(ctx, all[lo:min(lo+500, len(all))]); err != nil {
				b.Fatal(err)
			}
		}
		w, err := bars.NewWorker(c, symbols, bars.WorkerOptions{Name: "bench", Group: fmt.Sprintf("g%d", time.Now().UnixNano())})
		if err != nil {
			b.Fatal(err)
		}
		wctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		t0 := time.Now()
		go func() { defer close(done); _ = w.Run(wctx) }()
		for w.Stats().Trades < uint64(len(all)) {
			time.Sleep(time.Millisecond)
		}
		took := time.Since(t0)
		backlog := w.Stats()
		b.ReportMetric(float64(backlog.Trades)/took.Seconds(), "trades/s")
		b.ReportMetric(float64(backlog.Bars)/took.Seconds(), "bars/s")
		stop()
		<-done
		// Steady: 2,000 trades a second of 10 other symbols, their times
		// now, to a worker of its own, 1 s bars closing as time passes.
		var steady []string
		for i := range 10 {
			steady = append(steady, fmt.Sprintf("T%02d", i))
		}
		w, err = bars.NewWorker(c, steady, bars.WorkerOptions{Name: "bench", Group: fmt.Sprintf("g%d", time.Now().UnixNano())})
		if err != nil {
			b.Fatal(err)
		}
		wctx, stop = context.WithCancel(ctx)
		done = make(chan struct{})
		go func() { defer close(done); _ = w.Run(wctx) }()
		seq := uint64(time.Now().UnixMicro())
		tick := time.NewTicker(5 * time.Millisecond)
		end := time.Now().Add(5 * time.Second)
		for time.Now().Before(end) {
			<-tick.C
			batch := make([]trading.Trade, 0, 10)
			for _, s := range steady {
				seq++
				batch = append(batch, trading.Trade{Symbol: s, Seq: seq, At: time.Now(), Price: all[0].Price, Size: all[0].Size})
			}
			if _, err := f.PublishTrades(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		tick.Stop()
		time.Sleep(100 * time.Millisecond)
		st := w.Stats()
		stop()
		<-done
		b.ReportMetric(float64(st.LagP50.Microseconds())/1000, "lag-p50-ms")
		b.ReportMetric(float64(st.LagP99.Microseconds())/1000, "lag-p99-ms")
		b.Logf("backlog: %d trades, %d bars in %v; steady: %d trades, %d bars, lag from the closing trade's append to the bar p50 %v p99 %v",
			backlog.Trades, backlog.Bars, took.Round(time.Millisecond), st.Trades, st.Bars, st.LagP50, st.LagP99)
	}
}
