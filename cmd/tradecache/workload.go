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
	w := newWorkload(ctx, c, symbols)
	if err := w.seed(); err != nil {
		return err
	}
	w.start = time.Now() // the run is timed from its deadline's start, so that it reads at least d
	w.deadline = w.start.Add(d)
	w.work(2, func(i int) error { w.published.Add(1); return w.publish(w.syms[i%len(w.syms)]) })
	if w.useFeed {
		w.work(1, w.publishTrade)
	}
	stopBars, err := w.startBars()
	if err != nil {
		return err
	}
	w.work(8, w.valuation)
	w.work(4, w.riskRead)
	w.work(2, w.touchSession)
	stopSub := w.subscribe()
	w.progress(stderr)
	elapsed := time.Since(w.start)
	stopSub()
	stopBars()
	w.report(stdout, elapsed, symbols)
	return nil
}

// workload is one run of the demo's trading workload: its namespaces and
// symbols, the feed it publishes to, and what it counts.
type workload struct {
	ctx                                context.Context
	c                                  *tradecache.Cache
	quotes, portfolios, risk, sessions *tradecache.Namespace
	syms                               []string
	fd                                 *feed.Feed
	useFeed                            bool
	seq                                atomic.Uint64
	start, deadline                    time.Time
	wg                                 sync.WaitGroup
	published, valuations, riskReads   atomic.Int64
	touches, errs, trades, delivered   atomic.Int64
	lag                                hist.Histogram
	bars                               *bars.Worker
}

func newWorkload(ctx context.Context, c *tradecache.Cache, symbols int) *workload {
	w := &workload{ctx: ctx, c: c,
		quotes:     c.Namespace(tradecache.NamespaceMarketData),
		portfolios: c.Namespace(tradecache.NamespacePortfolio),
		risk:       c.Namespace(tradecache.NamespaceRisk),
		sessions:   c.Namespace(tradecache.NamespaceSession),
		syms:       make([]string, symbols),
		// Quotes go through the feed when the store keeps streams (Redis
		// and the in-memory store do): each update is the last value and
		// a stream entry in one step, and a subscriber below receives
		// them. On a store without streams they are plain version-guarded
		// writes.
		fd:      feed.New(c, feed.Options{Block: 100 * time.Millisecond}), // a short wait: the run ends on time
		useFeed: c.HasStreams(),
	}
	for i := range w.syms {
		w.syms[i] = fmt.Sprintf("SYM%03d", i)
	}
	// Versions start at this run's start in microseconds, above any an
	// earlier run stored: a second demo within the versions' TTL would
	// otherwise have every update refused as stale (0 published).
	w.seq.Store(uint64(time.Now().UnixMicro()))
	return w
}

// publish publishes a new quote of sym.
func (w *workload) publish(sym string) error {
	n := w.seq.Add(1)
	px := decimal.New(15000+int64(n%500), -2)
	q := trading.Quote{Symbol: sym, Seq: n, Bid: px, Ask: px.Add(decimal.New(2, -2)), At: time.Now()}
	if w.useFeed {
		_, err := w.fd.Publish(w.ctx, q)
		return err
	}
	_, err := w.quotes.SetIfNewer(w.ctx, trading.Key(sym, trading.KindQuote), q, n, 0)
	return err
}

// seed publishes a first quote of every symbol.
func (w *workload) seed() error {
	for _, s := range w.syms {
		// A slow moment (a busy machine) is retried; a store that keeps
		// failing ends the run with its error.
		var err error
		for try := 0; try < 3; try++ {
			if err = w.publish(s); err == nil || !errors.Is(err, tradecache.ErrTimeout) || w.ctx.Err() != nil {
				break
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// value is a book's value from its quotes, read in one GetMany.
func (w *workload) value(ctx context.Context, book []string) (decimal.Decimal, error) {
	keys := make([]string, len(book))
	for i, s := range book {
		keys[i] = trading.Key(s, trading.KindQuote)
	}
	got := map[string]trading.Quote{}
	if _, err := w.quotes.GetMany(ctx, keys, &got); err != nil {
		return decimal.Decimal{}, err
	}
	total := decimal.Zero
	for _, q := range got {
		total = total.Add(q.Bid.Mul(decimal.NewFromInt(100)))
	}
	return total, nil
}

// work runs fn on n goroutines until the deadline, each with its own
// sequence of i.
func (w *workload) work(n int, fn func(i int) error) {
	for g := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for i := g; time.Now().Before(w.deadline) && w.ctx.Err() == nil; i += n {
				// Ctrl-C ends the run: what it interrupts is not an error.
				if err := fn(i); err != nil && w.ctx.Err() == nil {
					w.errs.Add(1)
				}
			}
		}()
	}
}

// publishTrade publishes a trade, from which a bars worker builds 1 s
// bars: a steady 500 a second, as a venue's prints come, not as fast as
// the store takes them (which would crowd out the rest of the workload,
// and, on a busy machine, the publishing of this process's figures).
func (w *workload) publishTrade(i int) error {
	time.Sleep(2 * time.Millisecond)
	n := w.seq.Add(1)
	t := trading.Trade{Symbol: w.syms[i%len(w.syms)], Seq: n, Price: decimal.New(15000+int64(n%500), -2),
		Size: decimal.NewFromInt(int64(1 + n%300)), At: time.Now()}
	_, err := w.fd.PublishTrade(w.ctx, t)
	if err == nil {
		w.trades.Add(1)
	}
	return err
}

// startBars runs a bars worker over the trades, when there is a feed; stop
// ends it and waits for it.
func (w *workload) startBars() (stop func(), err error) {
	if !w.useFeed {
		return func() {}, nil
	}
	w.bars, err = bars.NewWorker(w.c, w.syms, bars.WorkerOptions{Options: bars.Options{Intervals: []time.Duration{time.Second}},
		Group: "demo", Name: fmt.Sprintf("demo-%d", os.Getpid())})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = w.bars.Run(ctx) }()
	return func() { cancel(); <-done }, nil
}

// valuation reads a portfolio's value through GetOrLoad.
func (w *workload) valuation(i int) error {
	id := fmt.Sprintf("P%02d", i%20)
	book := w.syms[i%len(w.syms) : min(len(w.syms), i%len(w.syms)+10)]
	w.valuations.Add(1)
	_, _, err := tradecache.GetOrLoad(w.ctx, w.portfolios, id+":value", func(ctx context.Context) (decimal.Decimal, error) {
		return w.value(ctx, book)
	}, tradecache.WithTTL(time.Second), tradecache.WithEarlyRefresh(1))
	return err
}

// riskRead reads a portfolio's VaR through GetOrLoad.
func (w *workload) riskRead(i int) error {
	id := fmt.Sprintf("P%02d", i%20)
	w.riskReads.Add(1)
	_, _, err := tradecache.GetOrLoad(w.ctx, w.risk, id+":VaR:0.99", func(ctx context.Context) (decimal.Decimal, error) {
		v, err := w.value(ctx, w.syms[:10])
		return v.Mul(decimal.RequireFromString("-0.021")).Round(2), err
	}, tradecache.WithTTL(2*time.Second))
	return err
}

// touchSession reads a session and slides its TTL in one round trip,
// creating it when it is missing.
func (w *workload) touchSession(i int) error {
	w.touches.Add(1)
	key := fmt.Sprintf("sess-%03d", i%100)
	var s map[string]string
	ok, err := w.sessions.Touch(w.ctx, key, &s, 0)
	if err == nil && !ok {
		err = w.sessions.Set(w.ctx, key, map[string]string{"user": key}, 0)
	}
	return err
}

// subscribe runs a subscriber to every symbol, as a pricing service would
// be, counting how many updates reach it and how late; stop ends it and
// waits for it.
func (w *workload) subscribe() (stop func()) {
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if !w.useFeed {
			return
		}
		for u, err := range w.fd.Subscribe(ctx, w.syms) {
			if err == nil && !u.Snapshot {
				w.delivered.Add(1)
				w.lag.Record(u.Lag)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// progress waits for the workers, showing a progress line on a terminal.
func (w *workload) progress(stderr io.Writer) {
	tty := isTerminal(stderr)
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
			if tty {
				st := w.c.Stats(w.ctx)
				var nbars uint64
				if w.bars != nil {
					nbars = w.bars.Stats().Bars
				}
				fmt.Fprintf(stderr, "\r\033[K%5.1fs  quotes %d  trades %d  bars %d  valuations %d  risk %d  sessions %d  hit rate %.1f%%  errors %d",
					time.Since(w.start).Seconds(), w.published.Load(), w.trades.Load(), nbars, w.valuations.Load(), w.riskReads.Load(), w.touches.Load(), 100*st.HitRate(), w.errs.Load())
			}
		}
	}
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
}

// report prints the run's summary.
func (w *workload) report(stdout io.Writer, elapsed time.Duration, symbols int) {
	ctx := w.ctx
	st := w.c.Stats(ctx)
	total := w.published.Load() + w.valuations.Load() + w.riskReads.Load() + w.touches.Load()
	fmt.Fprintf(stdout, "workload: %v on %s, %d symbols\n", round(elapsed), w.c.Backend(), symbols)
	fmt.Fprintf(stdout, "operations %d (%.0f/s): quote updates %d, valuations %d, risk reads %d, session touches %d\n",
		total, float64(total)/elapsed.Seconds(), w.published.Load(), w.valuations.Load(), w.riskReads.Load(), w.touches.Load())
	fmt.Fprintf(stdout, "hit rate %.1f%%, loader calls %d, early refreshes %d, errors %d\n", 100*st.HitRate(), st.Loads, st.Refreshes, w.errs.Load())
	if w.useFeed {
		fmt.Fprintf(stdout, "feed: %d entries published (quotes and trades), %d quotes delivered to a subscriber, lag p50 %v p99 %v\n",
			st.Streams.Published, w.delivered.Load(), round(w.lag.Quantile(0.5)), round(w.lag.Quantile(0.99)))
		bs := w.bars.Stats()
		fmt.Fprintf(stdout, "bars: %d trades published, %d folded into 1s bars, %d bars final, lag from the closing trade p50 %v p99 %v\n",
			w.trades.Load(), bs.Trades, bs.Bars, round(bs.LagP50), round(bs.LagP99))
		if b, found, err := trading.NewMarket(w.c).IntervalBar(ctx, w.syms[0], time.Second); err == nil && found {
			fmt.Fprintf(stdout, "  last %s bar: %s O %s H %s L %s C %s V %s VWAP %s (%d trades)\n", w.syms[0], b.Start.Format("15:04:05"),
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
}
