package bars_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/leaktest"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/internal/testkit"
	"github.com/tradecache/tradecache/store"
	"github.com/tradecache/tradecache/store/memstore"
	"github.com/tradecache/tradecache/trading"
	"github.com/tradecache/tradecache/trading/bars"
	"github.com/tradecache/tradecache/trading/feed"
)

var topologies redistest.Shared

func TestMain(m *testing.M) { leaktest.Main(m, topologies.Close) }

// trades makes n trades for each symbol, Seq and time rising, with a late
// trade (of an earlier second) now and then, and interleaves the symbols
// at random: one shuffled stream, each symbol's trades in their order.
func trades(rng *rand.Rand, symbols []string, n int) (all []trading.Trade, by map[string][]trading.Trade) {
	by = map[string][]trading.Trade{}
	t0 := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)
	for _, s := range symbols {
		at := t0
		for i := range n {
			at = at.Add(time.Duration(5+rng.IntN(400)) * time.Millisecond)
			tat := at
			if i%37 == 36 {
				tat = at.Add(-1500 * time.Millisecond) // late: of a second already closed, or the one before
			}
			by[s] = append(by[s], trading.Trade{Symbol: s, Seq: uint64(i + 1), At: tat,
				Price: decimal.New(int64(10000+rng.IntN(5000)), -2), Size: decimal.NewFromInt(int64(1 + rng.IntN(500)))})
		}
	}
	next := map[string]int{}
	left := slices(symbols)
	for len(left) > 0 {
		k := rng.IntN(len(left))
		s := left[k]
		all = append(all, by[s][next[s]])
		if next[s]++; next[s] == n {
			left = append(left[:k], left[k+1:]...)
		}
	}
	return all, by
}

func slices(s []string) []string { return append([]string(nil), s...) }

func barString(b trading.Bar) string {
	return fmt.Sprintf("%s %s %d o%s h%s l%s c%s v%s vwap%s roll%s seq%d n%d late%d", b.Symbol, b.Interval, b.Start.UnixMilli(),
		codec.DecimalString(b.Open), codec.DecimalString(b.High), codec.DecimalString(b.Low), codec.DecimalString(b.Close),
		codec.DecimalString(b.Volume), codec.DecimalString(b.VWAP), codec.DecimalString(b.RollingVolume), b.Seq, b.Trades, b.Late)
}

// TestWorkersBuildExactBarsThroughAKill: 3 workers, each a process of its
// own, build 1 s and 1 min bars from a shuffled stream of 100,000 trades
// of 50 symbols; one is killed with SIGKILL a third of the way through
// (what it had read but not acknowledged stays pending, and its symbols
// pass to the others). The bars published equal,
// exactly, those Build computes offline from the same trades; Replay of
// the streams gives them again; and Market.IntervalBar reads the last.
func TestWorkersBuildExactBarsThroughAKill(t *testing.T) {
	t.Run("standalone", func(t *testing.T) {
		testBars(t, tradecache.RedisConfig{URL: "redis://" + redistest.Start(t).Addr})
	})
	t.Run("cluster", func(t *testing.T) {
		cl := topologies.Cluster(t)
		cl.FlushAll(t)
		testBars(t, tradecache.RedisConfig{ClusterAddrs: cl.Addrs()})
	})
}

func testBars(t *testing.T, rc tradecache.RedisConfig) {
	off := false
	c := cachetest.Open(t, tradecache.Config{LogSlowOps: &off, OpTimeout: 2 * time.Second, BatchTimeout: 5 * time.Second, Redis: rc})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var symbols []string
	for i := range 50 {
		symbols = append(symbols, fmt.Sprintf("S%02d", i))
	}
	rng := rand.New(rand.NewPCG(7, 11))
	all, by := trades(rng, symbols, 2000)
	peers := []string{"w1", "w2", "w3"}
	opts := bars.Options{Intervals: []time.Duration{time.Second, time.Minute}, Rolling: 5}
	started := time.Now()
	workers := map[string]*workerProc{}
	for _, p := range peers {
		workers[p] = startWorker(t, rc, p, peers)
	}
	f := feed.New(c, feed.Options{})
	for lo := 0; lo < len(all); lo += 500 {
		if lo == len(all)/3 {
			workers["w2"].kill(t) // kill -9: its pending trades, and its symbols, pass to w1 and w3
		}
		applied, err := f.PublishTrades(ctx, all[lo:min(lo+500, len(all))])
		if err != nil {
			t.Fatal(err)
		}
		for i, ok := range applied {
			if !ok {
				t.Fatalf("trade %+v refused at publication", all[lo+i])
			}
		}
	}
	published := time.Since(started)
	// Offline, the same fold over each symbol's trades.
	want := map[string][]string{}
	total := 0
	for _, s := range symbols {
		b, err := bars.Build(by[s], opts)
		if err != nil {
			t.Fatal(err)
		}
		for iv, bs := range b {
			for _, x := range bs {
				want[s+" "+iv] = append(want[s+" "+iv], barString(x))
			}
			total += len(bs)
		}
	}
	// Wait until every final bar is published.
	got := map[string][]string{}
	deadline := time.Now().Add(90 * time.Second)
	for {
		n := 0
		for _, s := range symbols {
			for _, iv := range []string{"1s", "1m"} {
				bs, err := bars.Published(ctx, c, s, iv)
				if err != nil {
					t.Fatal(err)
				}
				got[s+" "+iv] = got[s+" "+iv][:0]
				for _, x := range bs {
					got[s+" "+iv] = append(got[s+" "+iv], barString(x))
				}
				n += len(bs)
			}
		}
		if n >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(started)
	for k, w := range want {
		g := got[k]
		if strings.Join(g, "\n") != strings.Join(w, "\n") {
			for i := range max(len(g), len(w)) {
				var gi, wi string
				if i < len(g) {
					gi = g[i]
				}
				if i < len(w) {
					wi = w[i]
				}
				if gi != wi {
					t.Fatalf("%s: bar %d of %d published / %d offline differs:\n got %s\nwant %s", k, i, len(g), len(w), gi, wi)
				}
			}
		}
	}
	// Replay of the streams gives the same bars.
	for _, s := range symbols[:5] {
		r, err := bars.Replay(ctx, c, s, "-", "+", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, iv := range []string{"1s", "1m"} {
			var rs []string
			for _, x := range r[iv] {
				rs = append(rs, barString(x))
			}
			if strings.Join(rs, "\n") != strings.Join(want[s+" "+iv], "\n") {
				t.Fatalf("replay of %s %s differs from the live bars", s, iv)
			}
		}
	}
	// Market.IntervalBar reads the last final bar, like any market data.
	m := trading.NewMarket(c)
	last := want["S07 1s"][len(want["S07 1s"])-1]
	if b, found, err := m.IntervalBar(ctx, "S07", time.Second); err != nil || !found || barString(b) != last {
		t.Fatalf("Market.IntervalBar = %v %v %v, want %s", barString(b), found, err, last)
	}
	// The bars being exact (volumes and trade counts included) shows every
	// trade counted once; the survivors say how the work was shared, and
	// the killed worker folded the rest.
	var st bars.Stats
	for _, p := range []string{"w1", "w3"} {
		s := workers[p].stop(t)
		t.Logf("%s: %d trades folded, %d bars, %d redeliveries acknowledged unfolded, %d gaps waited out; lag from the closing trade to its bar p50 %v, p99 %v",
			p, s.Trades, s.Bars, s.Duplicates, s.Gaps, s.LagP50, s.LagP99)
		st.Trades += s.Trades
		st.Bars += s.Bars
		st.Duplicates += s.Duplicates
	}
	t.Logf("%d trades of %d symbols published in %v; %d final bars, all published after %v: %.0f bars/s and %.0f trades/s over 3 workers (one killed at a third)",
		len(all), len(symbols), published.Round(time.Millisecond), total, took.Round(time.Millisecond), float64(total)/took.Seconds(), float64(len(all))/took.Seconds())
	t.Logf("w2, killed: %d trades folded before it died", uint64(len(all))-st.Trades)
}

// The worker processes. TestBarsWorkerChild is the body of one: it does
// nothing in a normal run, and runs a worker, as named in its
// environment, until its stdin closes, then prints its Stats.
const childEnv = "TRADECACHE_BARS_WORKER"

type childSpec struct {
	Redis tradecache.RedisConfig
	Name  string
	Peers []string
}

func TestBarsWorkerChild(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return // run by startWorker only
	}
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	off := false
	c := cachetest.Open(t, tradecache.Config{LogSlowOps: &off, OpTimeout: 2 * time.Second, BatchTimeout: 5 * time.Second, Redis: spec.Redis})
	w, err := bars.NewWorker(c, symbolsOf(50), bars.WorkerOptions{Options: bars.Options{Intervals: []time.Duration{time.Second, time.Minute}, Rolling: 5},
		Name: spec.Name, Peers: spec.Peers, Heartbeat: 100 * time.Millisecond, MinIdle: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	_, _ = io.Copy(io.Discard, os.Stdin)
	stop()
	<-done
	_ = json.NewEncoder(os.Stdout).Encode(w.Stats())
}

func symbolsOf(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("S%02d", i))
	}
	return out
}

type workerProc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout strings.Builder
	stderr strings.Builder
}

// startWorker runs a worker in a process of its own; its stderr is
// printed if the test fails.
func startWorker(t *testing.T, rc tradecache.RedisConfig, name string, peers []string) *workerProc {
	t.Helper()
	spec, _ := json.Marshal(childSpec{Redis: rc, Name: name, Peers: peers})
	w := &workerProc{name: name, cmd: exec.Command(os.Args[0], "-test.run=^TestBarsWorkerChild$", "-test.count=1")}
	w.cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	w.cmd.Stdout, w.cmd.Stderr = &w.stdout, &w.stderr
	var err error
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = w.cmd.Process.Kill()
		_ = w.cmd.Wait()
		if t.Failed() {
			t.Logf("worker %s's stderr:\n%s", name, w.stderr.String())
		}
	})
	return w
}

// kill kills the worker with SIGKILL: nothing of it runs after.
func (w *workerProc) kill(t *testing.T) {
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = w.cmd.Wait()
}

// stop ends the worker and returns its Stats.
func (w *workerProc) stop(t *testing.T) bars.Stats {
	_ = w.stdin.Close()
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("worker %s: %v\n%s", w.name, err, w.stderr.String())
	}
	var s bars.Stats
	out := w.stdout.String()
	if i := strings.Index(out, "{"); i >= 0 {
		out = out[i:]
	}
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&s); err != nil {
		t.Fatalf("worker %s's stats: %v in %q", w.name, err, w.stdout.String())
	}
	return s
}

// losingAcks is the in-memory store with its first acknowledgements lost:
// a worker that dies between storing its fold and acknowledging it.
type losingAcks struct {
	*memstore.Store
	lose atomic.Int64
}

func (s *losingAcks) Ack(ctx context.Context, stream, group string, ids ...string) error {
	if s.lose.Add(-1) >= 0 {
		return nil // said done, never done
	}
	return s.Store.Ack(ctx, stream, group, ids...)
}

// TestRedeliveredTradesCountOnce: trades whose fold was stored but whose
// acknowledgement was lost come again (claimed after MinIdle); they are
// acknowledged without being folded again, and the bars are Build's.
func TestRedeliveredTradesCountOnce(t *testing.T) {
	mem, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &losingAcks{Store: mem}
	s.lose.Store(3)
	c, ctx := memCache(t, s)
	_, by := trades(rand.New(rand.NewPCG(1, 2)), []string{"S00"}, 300)
	f := feed.New(c, feed.Options{})
	if _, err := f.PublishTrades(ctx, by["S00"]); err != nil {
		t.Fatal(err)
	}
	opts := bars.Options{Intervals: []time.Duration{time.Second}}
	w := runWorker(t, ctx, c, []string{"S00"}, bars.WorkerOptions{Options: opts, Name: "w1", Count: 50, MinIdle: 100 * time.Millisecond})
	want, _ := bars.Build(by["S00"], opts)
	for {
		got, err := bars.Published(ctx, c, "S00", "1s")
		if err != nil {
			t.Fatal(err)
		}
		pending, _ := tradecache.StreamOf(c.Namespace(tradecache.NamespaceMarketData), "S00:trade").Group("bars").Pending(ctx)
		if len(got) == len(want["1s"]) && pending == 0 {
			for i := range got {
				if barString(got[i]) != barString(want["1s"][i]) {
					t.Fatalf("bar %d: %s, want %s", i, barString(got[i]), barString(want["1s"][i]))
				}
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d of %d bars, %d trades pending", len(got), len(want["1s"]), pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := w.Stats(); st.Duplicates != 150 || st.Trades != 300 {
		t.Fatalf("stats %+v: want the 150 trades of the 3 lost acknowledgements redelivered and not folded again", st)
	}
}

// TestSubscribeYieldsTheLatestThenEachNewBar: a subscription yields a
// symbol's latest final bar, then the bars a worker publishes after it,
// in order, each once.
func TestSubscribeYieldsTheLatestThenEachNewBar(t *testing.T) {
	c, ctx := memCache(t, nil)
	_, by := trades(rand.New(rand.NewPCG(5, 6)), []string{"S00"}, 400)
	f := feed.New(c, feed.Options{})
	opts := bars.Options{Intervals: []time.Duration{time.Second}}
	if _, err := f.PublishTrades(ctx, by["S00"][:200]); err != nil {
		t.Fatal(err)
	}
	runWorker(t, ctx, c, []string{"S00"}, bars.WorkerOptions{Options: opts, Name: "w1"})
	first, _ := bars.Build(by["S00"][:200], opts)
	for len(mustPublished(ctx, t, c)) < len(first["1s"]) {
		time.Sleep(10 * time.Millisecond)
	}
	all, _ := bars.Build(by["S00"], opts)
	var got []string
	for u, err := range bars.Subscribe(ctx, c, []string{"S00"}, time.Second) {
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			if !u.Current || barString(u.Bar) != barString(first["1s"][len(first["1s"])-1]) {
				t.Fatalf("first update %+v, want the latest final bar, current", u)
			}
			if _, err := f.PublishTrades(ctx, by["S00"][200:]); err != nil {
				t.Fatal(err)
			}
		} else if u.Current {
			t.Fatalf("a later update marked current: %+v", u)
		}
		got = append(got, barString(u.Bar))
		if len(got) == len(all["1s"])-len(first["1s"])+1 {
			break
		}
	}
	for i, g := range got {
		if want := barString(all["1s"][len(first["1s"])-1+i]); g != want {
			t.Fatalf("update %d: %s, want %s", i, g, want)
		}
	}
}

func mustPublished(ctx context.Context, t *testing.T, c *tradecache.Cache) []trading.Bar {
	bs, err := bars.Published(ctx, c, "S00", "1s")
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

// TestClockClosesTheBarsOfASymbolThatStopsTrading: with CloseAfter, a
// symbol's last bar is published once its interval has ended, though no
// later trade came; a trade of that interval that comes after is in no
// bar, and counted. (Without CloseAfter the last bar stays open: the
// other tests' bars are Build's, which closes none by the clock.)
func TestClockClosesTheBarsOfASymbolThatStopsTrading(t *testing.T) {
	c, ctx := memCache(t, nil)
	t0 := time.Now().Add(-3 * time.Second).Truncate(time.Second)
	var ts []trading.Trade
	for i := range 10 {
		ts = append(ts, trading.Trade{Symbol: "S00", Seq: uint64(i + 1), At: t0.Add(time.Duration(i) * 90 * time.Millisecond),
			Price: decimal.New(10000+int64(i), -2), Size: decimal.NewFromInt(10)})
	}
	f := feed.New(c, feed.Options{})
	if _, err := f.PublishTrades(ctx, ts); err != nil {
		t.Fatal(err)
	}
	opts := bars.Options{Intervals: []time.Duration{time.Second}}
	w := runWorker(t, ctx, c, []string{"S00"}, bars.WorkerOptions{Options: opts, Name: "w1", Heartbeat: 50 * time.Millisecond, CloseAfter: 100 * time.Millisecond})
	var got []trading.Bar
	if !testkit.Poll(10*time.Second, func() bool { got = mustPublished(ctx, t, c); return len(got) == 1 }) {
		t.Fatalf("the bar of a symbol that stopped trading was not closed by the clock: %d bars", len(got))
	}
	b := got[0]
	if !b.Start.Equal(t0) || b.Trades != 10 || b.Volume.String() != "100" || b.Close.String() != "100.09" || w.Stats().ClosedByClock != 1 {
		t.Fatalf("bar %s, stats %+v", barString(b), w.Stats())
	}
	// A trade of the closed second: in no bar.
	if _, err := f.PublishTrade(ctx, trading.Trade{Symbol: "S00", Seq: 11, At: t0.Add(500 * time.Millisecond), Price: decimal.New(1, 0), Size: decimal.NewFromInt(1)}); err != nil {
		t.Fatal(err)
	}
	if !testkit.Poll(10*time.Second, func() bool { return w.Stats().Dropped == 1 }) {
		t.Fatalf("a trade of a bar the clock closed: stats %+v", w.Stats())
	}
	if got := mustPublished(ctx, t, c); len(got) != 1 || barString(got[0]) != barString(b) {
		t.Fatalf("bars after the late trade: %d, first %s", len(got), barString(got[0]))
	}
}

// runWorker runs a worker over c for symbols until the test ends.
func runWorker(t *testing.T, ctx context.Context, c *tradecache.Cache, symbols []string, opts bars.WorkerOptions) *bars.Worker {
	t.Helper()
	w, err := bars.NewWorker(c, symbols, opts)
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(wctx) }()
	t.Cleanup(func() { stop(); <-done })
	return w
}

// memCache returns a Cache on the in-memory store (st, when given, in its
// place) and a 30 s context, both ended with the test.
func memCache(t *testing.T, st store.Store) (*tradecache.Cache, context.Context) {
	t.Helper()
	var opts []tradecache.Option
	if st != nil {
		opts = append(opts, tradecache.WithStore(st))
	}
	c := cachetest.Open(t, tradecache.Config{Environment: tradecache.Testing}, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c, ctx
}
