package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/hist"
	"github.com/tradecache/tradecache/trading"
	"github.com/tradecache/tradecache/trading/bars"
	"github.com/tradecache/tradecache/trading/feed"
)

// runWorkload is `tradecache demo --duration D`: a trading workload for D.
// A market-data feed updates the symbols' quotes (each carrying its
// sequence number); valuation and risk workers read portfolio values and
// VaR through GetOrLoad, whose loaders read the quotes in one GetMany;
// session workers touch sessions with a sliding TTL.
func runWorkload(ctx context.Context, c *tradecache.Cache, d time.Duration, symbols int, stdout, stderr io.Writer) error {
	quotes := c.Namespace(tradecache.NamespaceMarketData)
	portfolios := c.Namespace(tradecache.NamespacePortfolio)
	risk := c.Namespace(tradecache.NamespaceRisk)
	sessions := c.Namespace(tradecache.NamespaceSession)
	syms := make([]string, symbols)
	for i := range syms {
		syms[i] = fmt.Sprintf("SYM%03d", i)
	}
	// Quotes go through the feed when the store keeps streams (Redis and
	// the in-memory store do): each update is the last value and a stream
	// entry in one step, and a subscriber below receives them. On a store
	// without streams they are plain version-guarded writes.
	fd := feed.New(c, feed.Options{Block: 100 * time.Millisecond}) // a short wait: the run ends on time
	useFeed := c.HasStreams()
	// Versions start at this run's start in microseconds, above any an
	// earlier run stored: a second demo within the versions' TTL would
	// otherwise have every update refused as stale (0 published).
	var seq atomic.Uint64
	seq.Store(uint64(time.Now().UnixMicro()))
	publish := func(sym string) error {
		n := seq.Add(1)
		px := decimal.New(15000+int64(n%500), -2)
		q := trading.Quote{Symbol: sym, Seq: n, Bid: px, Ask: px.Add(decimal.New(2, -2)), At: time.Now()}
		if useFeed {
			_, err := fd.Publish(ctx, q)
			return err
		}
		_, err := quotes.SetIfNewer(ctx, trading.Key(sym, trading.KindQuote), q, n, 0)
		return err
	}
	for _, s := range syms {
		// A slow moment (a busy machine) is retried; a store that keeps
		// failing ends the run with its error.
		var err error
		for try := 0; try < 3; try++ {
			if err = publish(s); err == nil || !errors.Is(err, tradecache.ErrTimeout) || ctx.Err() != nil {
				break
			}
		}
		if err != nil {
			return err
		}
	}
	value := func(ctx context.Context, book []string) (decimal.Decimal, error) {
		keys := make([]string, len(book))
		for i, s := range book {
			keys[i] = trading.Key(s, trading.KindQuote)
		}
		got := map[string]trading.Quote{}
		if _, err := quotes.GetMany(ctx, keys, &got); err != nil {
			return decimal.Decimal{}, err
		}
		total := decimal.Zero
		for _, q := range got {
			total = total.Add(q.Bid.Mul(decimal.NewFromInt(100)))
		}
		return total, nil
	}

	var (
		published, valuations, riskReads, touches, errs atomic.Int64
		wg                                              sync.WaitGroup
	)
	start := time.Now() // the run is timed from its deadline's start, so that it reads at least d
	deadline := start.Add(d)
	work := func(n int, fn func(i int) error) {
		for g := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; time.Now().Before(deadline) && ctx.Err() == nil; i += n {
					// Ctrl-C ends the run: what it interrupts is not an error.
					if err := fn(i); err != nil && ctx.Err() == nil {
						errs.Add(1)
					}
				}
			}()
		}
	}
	work(2, func(i int) error { published.Add(1); return publish(syms[i%len(syms)]) })
	// Trades too, from which a bars worker (below) builds 1 s bars: a
	// steady 500 a second, as a venue's prints come, not as fast as the
	// store takes them (which would crowd out the rest of the workload,
	// and, on a busy machine, the publishing of this process's figures).
	var tradesPublished atomic.Int64
	if useFeed {
		work(1, func(i int) error {
			time.Sleep(2 * time.Millisecond)
			n := seq.Add(1)
			t := trading.Trade{Symbol: syms[i%len(syms)], Seq: n, Price: decimal.New(15000+int64(n%500), -2),
				Size: decimal.NewFromInt(int64(1 + n%300)), At: time.Now()}
			_, err := fd.PublishTrade(ctx, t)
			if err == nil {
				tradesPublished.Add(1)
			}
			return err
		})
	}
	var bw *bars.Worker
	bwCtx, stopBars := context.WithCancel(ctx)
	bwDone := make(chan struct{})
	if useFeed {
		var err error
		bw, err = bars.NewWorker(c, syms, bars.WorkerOptions{Options: bars.Options{Intervals: []time.Duration{time.Second}},
			Group: "demo", Name: fmt.Sprintf("demo-%d", os.Getpid())})
		if err != nil {
			stopBars()
			return err
		}
		go func() { defer close(bwDone); _ = bw.Run(bwCtx) }()
	} else {
		close(bwDone)
	}
	work(8, func(i int) error {
		id := fmt.Sprintf("P%02d", i%20)
		book := syms[i%len(syms) : min(len(syms), i%len(syms)+10)]
		valuations.Add(1)
		_, _, err := tradecache.GetOrLoad(ctx, portfolios, id+":value", func(ctx context.Context) (decimal.Decimal, error) {
			return value(ctx, book)
		}, tradecache.WithTTL(time.Second), tradecache.WithEarlyRefresh(1))
		return err
	})
	work(4, func(i int) error {
		id := fmt.Sprintf("P%02d", i%20)
		riskReads.Add(1)
		_, _, err := tradecache.GetOrLoad(ctx, risk, id+":VaR:0.99", func(ctx context.Context) (decimal.Decimal, error) {
			v, err := value(ctx, syms[:10])
			return v.Mul(decimal.RequireFromString("-0.021")).Round(2), err
		}, tradecache.WithTTL(2*time.Second))
		return err
	})
	work(2, func(i int) error {
		touches.Add(1)
		key := fmt.Sprintf("sess-%03d", i%100)
		var s map[string]string
		ok, err := sessions.Touch(ctx, key, &s, 0) // read and slide the TTL in one round trip
		if err == nil && !ok {
			err = sessions.Set(ctx, key, map[string]string{"user": key}, 0)
		}
		return err
	})

	// A subscriber to every symbol, as a pricing service would be: how
	// many updates reach it, and how late.
	var delivered atomic.Int64
	var lag hist.Histogram
	subCtx, stopSub := context.WithCancel(ctx)
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		if !useFeed {
			return
		}
		for u, err := range fd.Subscribe(subCtx, syms) {
			if err == nil && !u.Snapshot {
				delivered.Add(1)
				lag.Record(u.Lag)
			}
		}
	}()

	tty := isTerminal(stderr)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
			if tty {
				st := c.Stats(ctx)
				var nbars uint64
				if bw != nil {
					nbars = bw.Stats().Bars
				}
				fmt.Fprintf(stderr, "\r\033[K%5.1fs  quotes %d  trades %d  bars %d  valuations %d  risk %d  sessions %d  hit rate %.1f%%  errors %d",
					time.Since(start).Seconds(), published.Load(), tradesPublished.Load(), nbars, valuations.Load(), riskReads.Load(), touches.Load(), 100*st.HitRate(), errs.Load())
			}
		}
	}
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	elapsed := time.Since(start)
	stopSub()
	<-subDone
	stopBars()
	<-bwDone
	st := c.Stats(ctx)
	total := published.Load() + valuations.Load() + riskReads.Load() + touches.Load()
	fmt.Fprintf(stdout, "workload: %v on %s, %d symbols\n", round(elapsed), c.Backend(), symbols)
	fmt.Fprintf(stdout, "operations %d (%.0f/s): quote updates %d, valuations %d, risk reads %d, session touches %d\n",
		total, float64(total)/elapsed.Seconds(), published.Load(), valuations.Load(), riskReads.Load(), touches.Load())
	fmt.Fprintf(stdout, "hit rate %.1f%%, loader calls %d, early refreshes %d, errors %d\n", 100*st.HitRate(), st.Loads, st.Refreshes, errs.Load())
	if useFeed {
		fmt.Fprintf(stdout, "feed: %d entries published (quotes and trades), %d quotes delivered to a subscriber, lag p50 %v p99 %v\n",
			st.Streams.Published, delivered.Load(), round(lag.Quantile(0.5)), round(lag.Quantile(0.99)))
		bs := bw.Stats()
		fmt.Fprintf(stdout, "bars: %d trades published, %d folded into 1s bars, %d bars final, lag from the closing trade p50 %v p99 %v\n",
			tradesPublished.Load(), bs.Trades, bs.Bars, round(bs.LagP50), round(bs.LagP99))
		if b, found, err := trading.NewMarket(c).IntervalBar(ctx, syms[0], time.Second); err == nil && found {
			fmt.Fprintf(stdout, "  last %s bar: %s O %s H %s L %s C %s V %s VWAP %s (%d trades)\n", syms[0], b.Start.Format("15:04:05"),
				b.Open, b.High, b.Low, b.Close, b.Volume, b.VWAP, b.Trades)
		}
	} else {
		fmt.Fprintln(stdout, "feed: off (the store keeps no streams; quotes were version-guarded writes)")
	}
	ops := make([]string, 0, len(st.Ops))
	for op := range st.Ops {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		o := st.Ops[op]
		fmt.Fprintf(stdout, "  %-12s count %8d  p50 %9v  p99 %9v  max %9v\n", op, o.Count, round(o.P50), round(o.P99), round(o.Max))
	}
	return nil
}
