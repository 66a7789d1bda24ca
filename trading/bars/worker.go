package bars

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/trading"
)

// NamespaceBars holds the workers' fold states and heartbeats.
const NamespaceBars = "bars"

// WorkerOptions tune a Worker. Zero fields mean the defaults given.
type WorkerOptions struct {
	Options
	// Group is the consumer group of the trade streams ("bars"). Workers
	// of one group share the work; another group builds its own bars.
	Group string
	// Name is this worker's name, unique in the group (required).
	Name string
	// Peers are every worker's names, this one's included ([Name]). Each
	// symbol has an owner among the live peers (a peer is live while its
	// heartbeat is), and only its owner reads its new trades.
	Peers []string
	// Heartbeat is how often a worker says it is live, and looks at the
	// others (500 ms); a peer silent for four heartbeats is dead, and its
	// symbols pass to the next live peer.
	Heartbeat time.Duration
	// MinIdle is how long a trade stays pending on a worker before
	// another claims it (5 s): longer than a batch ever takes.
	MinIdle time.Duration
	// Count is how many trades one read takes per symbol (256).
	Count int
	// Poll is the pause when no owned symbol had anything (20 ms): the
	// most a trade may wait to be read.
	Poll time.Duration
	// CloseAfter, when above 0, closes a bar by the clock: once its
	// interval has ended CloseAfter ago (by this worker's clock against
	// the trades' times) and no later trade came, its owner publishes it
	// as final. A trade of that interval, or an earlier one, that comes
	// after is in no bar (Stats.Dropped). With 0, the default, a bar is
	// final only when a later trade comes, and the bars are a function of
	// the trades alone (Build gives them).
	CloseAfter time.Duration
}

func (o WorkerOptions) withDefaults() (WorkerOptions, error) {
	var err error
	if o.Options, err = o.Options.withDefaults(); err != nil {
		return o, err
	}
	if o.Name == "" || strings.ContainsAny(o.Name, " \t\r\n") {
		return o, fmt.Errorf("bars: a worker needs a name without spaces, got %q", o.Name)
	}
	if o.Group == "" {
		o.Group = "bars"
	}
	if len(o.Peers) == 0 {
		o.Peers = []string{o.Name}
	}
	if !slices.Contains(o.Peers, o.Name) {
		return o, fmt.Errorf("bars: peers %v do not include this worker, %q", o.Peers, o.Name)
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 500 * time.Millisecond
	}
	if o.MinIdle <= 0 {
		o.MinIdle = 5 * time.Second
	}
	if o.Count <= 0 {
		o.Count = 256
	}
	if o.Poll <= 0 {
		o.Poll = 20 * time.Millisecond
	}
	return o, nil
}

// Stats are a worker's figures since it started.
type Stats struct {
	Trades     uint64 // folded
	Duplicates uint64 // delivered again after being folded: acknowledged, not folded
	Gaps       uint64 // delivered before the trade ahead of them was folded: left pending
	Bars       uint64 // final bars published
	BadEntries uint64 // entries that are not trades: dead-lettered, passed over
	// Dropped counts trades of an interval whose bar the clock had already
	// closed (WorkerOptions.CloseAfter), once per interval: in no bar.
	Dropped uint64
	// ClosedByClock counts the bars closed by the clock.
	ClosedByClock uint64
	// LagP50 and LagP99 are from the append of the trade that made a bar
	// final to the bar's publication, over the last 4096 bars.
	LagP50, LagP99 time.Duration
}

// Worker builds bars from the trade streams of its symbols, as one of a
// group of workers.
type Worker struct {
	md, ns  *tradecache.Namespace
	symbols []string
	opts    WorkerOptions
	f       folder

	trades, dups, gaps, bars, bad atomic.Uint64
	dropped, byClock              atomic.Uint64
	lagMu                         sync.Mutex
	lags                          []time.Duration // a ring of the last lagRing
	lagN                          int
}

const lagRing = 4096

// NewWorker returns a worker of the group in opts over c, for symbols
// (every worker of a group is given the same symbols).
func NewWorker(c *tradecache.Cache, symbols []string, opts WorkerOptions) (*Worker, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(symbols) == 0 {
		return nil, errors.New("bars: a worker needs symbols")
	}
	return &Worker{md: c.Namespace(tradecache.NamespaceMarketData), ns: c.Namespace(NamespaceBars),
		symbols: slices.Clone(symbols), opts: opts, f: folder{intervals: opts.Intervals, rolling: opts.Rolling}}, nil
}

// Stats returns the worker's figures.
func (w *Worker) Stats() Stats {
	s := Stats{Trades: w.trades.Load(), Duplicates: w.dups.Load(), Gaps: w.gaps.Load(), Bars: w.bars.Load(), BadEntries: w.bad.Load(),
		Dropped: w.dropped.Load(), ClosedByClock: w.byClock.Load()}
	w.lagMu.Lock()
	lags := slices.Clone(w.lags)
	w.lagMu.Unlock()
	if len(lags) > 0 {
		slices.Sort(lags)
		s.LagP50, s.LagP99 = lags[len(lags)/2], lags[len(lags)*99/100]
	}
	return s
}

func (w *Worker) lag(d time.Duration) {
	w.lagMu.Lock()
	if len(w.lags) < lagRing {
		w.lags = append(w.lags, d)
	} else {
		w.lags[w.lagN%lagRing] = d
	}
	w.lagN++
	w.lagMu.Unlock()
}

func (w *Worker) heartbeatKey(peer string) string { return "hb:" + w.opts.Group + ":" + peer }
func (w *Worker) stateKey(symbol string) string   { return "state:" + w.opts.Group + ":" + symbol }

// owner is symbol's owner among the live peers: its place in the peers
// by hash, or the next live peer after it.
func owner(symbol string, peers []string, live func(string) bool) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(symbol))
	start := int(h.Sum32() % uint32(len(peers)))
	for i := range peers {
		if p := peers[(start+i)%len(peers)]; live(p) {
			return p
		}
	}
	return ""
}

// Run builds bars until ctx ends, then returns nil. A failed store call
// is retried on the next round; nothing is lost while the store is away,
// since nothing is acknowledged.
func (w *Worker) Run(ctx context.Context) error {
	live := map[string]bool{w.opts.Name: true}
	var lastBeat, lastClaim time.Time
	claimFrom := map[string]string{}
	for ctx.Err() == nil {
		if time.Since(lastBeat) >= w.opts.Heartbeat {
			live = w.beat(ctx, live)
			lastBeat = time.Now()
			if w.opts.CloseAfter > 0 {
				for _, sym := range w.symbols {
					if owner(sym, w.opts.Peers, func(p string) bool { return live[p] }) == w.opts.Name {
						w.closeByClock(ctx, sym, lastBeat)
					}
				}
			}
		}
		got := 0
		for _, sym := range w.symbols {
			if owner(sym, w.opts.Peers, func(p string) bool { return live[p] }) != w.opts.Name {
				continue
			}
			evs, err := tradecache.StreamOf(w.md, trading.Key(sym, trading.KindTrade)).Group(w.opts.Group).Read(ctx, w.opts.Name, w.opts.Count, 0)
			if err == nil {
				got += len(evs)
				w.process(ctx, sym, evs)
			}
		}
		if time.Since(lastClaim) >= w.opts.MinIdle/2 {
			// Every symbol's: a dead worker's pending trades, and trades
			// left pending behind a gap, whoever owns the symbol now.
			for _, sym := range w.symbols {
				evs, next, err := tradecache.StreamOf(w.md, trading.Key(sym, trading.KindTrade)).Group(w.opts.Group).
					Claim(ctx, w.opts.Name, w.opts.MinIdle, orDefault(claimFrom[sym], "0-0"), w.opts.Count)
				if err == nil {
					claimFrom[sym] = next
					got += len(evs)
					w.process(ctx, sym, evs)
				}
			}
			lastClaim = time.Now()
		}
		if got == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(w.opts.Poll):
			}
		}
	}
	return nil
}

func orDefault(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// beat says this worker is live, and returns which peers are.
func (w *Worker) beat(ctx context.Context, was map[string]bool) map[string]bool {
	_ = w.ns.Set(ctx, w.heartbeatKey(w.opts.Name), time.Now().UnixMilli(), 4*w.opts.Heartbeat)
	keys := make([]string, len(w.opts.Peers))
	for i, p := range w.opts.Peers {
		keys[i] = w.heartbeatKey(p)
	}
	seen := map[string]int64{}
	if _, err := w.ns.GetMany(ctx, keys, &seen); err != nil {
		return was // unknown: keep the last view
	}
	live := map[string]bool{w.opts.Name: true}
	for i, p := range w.opts.Peers {
		if _, ok := seen[keys[i]]; ok {
			live[p] = true
		}
	}
	return live
}

// foldState is a state with the count of entries folded, its version.
type foldState struct {
	state
	N uint64 `json:"n"` // entries folded or passed over: the version
}

// process folds evs, a symbol's entries in stream order, onto its stored
// state, publishes the bars they made final, stores the state, and
// acknowledges what the stored state covers.
func (w *Worker) process(ctx context.Context, symbol string, evs []tradecache.StreamEvent) {
	if len(evs) == 0 {
		return
	}
	var fs foldState
	found, err := w.ns.Get(ctx, w.stateKey(symbol), &fs)
	if err != nil {
		return
	}
	if !found || len(fs.Open) != len(w.f.intervals) {
		fs = foldState{state: *w.f.newState()}
	}
	g := tradecache.StreamOf(w.md, trading.Key(symbol, trading.KindTrade)).Group(w.opts.Group)
	var (
		acks    []string
		bars    []tradecache.Update
		closers []time.Time
		changed bool
	)
	for _, e := range evs {
		if fs.LastID != "" && compareIDs(e.ID, fs.LastID) <= 0 {
			acks = append(acks, e.ID) // folded already: a redelivery
			w.dups.Add(1)
			continue
		}
		if fs.LastID == "" && e.Prev != "" && e.Prev != "0-0" || fs.LastID != "" && e.Prev != fs.LastID {
			w.gaps.Add(1) // the trade before it is not folded yet: it, and the rest, wait
			break
		}
		var t trading.Trade
		if err := e.Decode(&t); err != nil || t.Symbol != symbol || t.Seq == 0 {
			reason := fmt.Sprintf("not a trade of %s", symbol)
			if err != nil {
				reason = "cannot decode: " + err.Error()
			}
			_ = g.DeadLetter(ctx, e, reason)
			w.bad.Add(1)
		} else {
			final, dropped := w.f.fold(&fs.state, t)
			w.dropped.Add(uint64(dropped))
			for _, b := range final {
				bars = append(bars, tradecache.Update{Key: Key(symbol, durationOf(w.f.intervals, b.Interval)), Value: b, Version: uint64(b.Start.UnixMilli())})
				closers = append(closers, e.Time())
			}
			w.trades.Add(1)
		}
		fs.LastID, fs.N, changed = e.ID, fs.N+1, true
		acks = append(acks, e.ID)
	}
	if len(bars) > 0 {
		rs, err := tradecache.StreamsOf(w.md).PublishMany(ctx, bars)
		if err != nil {
			return // nothing stored or acknowledged: the trades come again
		}
		for i, r := range rs {
			if r.Err != nil {
				return
			}
			if r.Applied {
				w.bars.Add(1)
				w.lag(time.Since(closers[i]))
			}
		}
	}
	if changed {
		applied, err := w.ns.SetIfNewer(ctx, w.stateKey(symbol), fs, fs.N, 0)
		if err != nil {
			return
		}
		if !applied {
			// Another worker stored a newer state (this symbol changed
			// hands): acknowledge only what it covers.
			var cur foldState
			if found, err := w.ns.Get(ctx, w.stateKey(symbol), &cur); err != nil || !found {
				return
			}
			acks = slices.DeleteFunc(acks, func(id string) bool { return compareIDs(id, cur.LastID) > 0 })
		}
	}
	if len(acks) > 0 {
		_ = g.Ack(ctx, acks...) // a lost ack means a redelivery, which is acknowledged unfolded
	}
}

// closeByClock publishes, as final, symbol's open bars whose interval
// ended CloseAfter before now, and stores the state without them.
func (w *Worker) closeByClock(ctx context.Context, symbol string, now time.Time) {
	var fs foldState
	found, err := w.ns.Get(ctx, w.stateKey(symbol), &fs)
	if err != nil || !found || len(fs.Open) != len(w.f.intervals) {
		return
	}
	final := w.f.closeBy(&fs.state, now, w.opts.CloseAfter)
	if len(final) == 0 {
		return
	}
	us := make([]tradecache.Update, len(final))
	for i, b := range final {
		us[i] = tradecache.Update{Key: Key(symbol, durationOf(w.f.intervals, b.Interval)), Value: b, Version: uint64(b.Start.UnixMilli())}
	}
	rs, err := tradecache.StreamsOf(w.md).PublishMany(ctx, us)
	if err != nil {
		return
	}
	for _, r := range rs {
		if r.Err != nil {
			return
		}
		if r.Applied {
			w.bars.Add(1)
			w.byClock.Add(1)
		}
	}
	fs.N++ // a change of the state with no entry folded: its version still rises
	_, _ = w.ns.SetIfNewer(ctx, w.stateKey(symbol), fs, fs.N, 0)
}

func durationOf(intervals []time.Duration, name string) time.Duration {
	for _, d := range intervals {
		if IntervalName(d) == name {
			return d
		}
	}
	return 0
}

// compareIDs orders stream entry IDs ("<ms>-<seq>").
func compareIDs(a, b string) int {
	am, as := splitID(a)
	bm, bs := splitID(b)
	switch {
	case am != bm:
		if am < bm {
			return -1
		}
		return 1
	case as < bs:
		return -1
	case as > bs:
		return 1
	}
	return 0
}

func splitID(id string) (ms, seq uint64) {
	a, b, _ := strings.Cut(id, "-")
	ms, _ = strconv.ParseUint(a, 10, 64)
	seq, _ = strconv.ParseUint(b, 10, 64)
	return ms, seq
}
