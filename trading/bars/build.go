// Package bars builds OHLCV bars, VWAP and rolling volume per symbol and
// interval from the trades published through package feed, in consumer
// groups: several workers share the symbols, and a worker that dies has
// its symbols and its unacknowledged trades taken over by the others.
//
// # The rule
//
// A symbol's trades are folded in stream order (the order Publish applied
// them, which is Seq order). A trade belongs to the bar of each interval
// that holds its time (At, truncated to the interval from the Unix
// epoch).
//
//   - A trade of the open bar's interval updates it: High, Low, Close,
//     Volume, VWAP, Trades.
//   - A trade of a later interval makes the open bar final (it is
//     published, and never changes again) and opens the next. An interval
//     without trades has no bar.
//   - A late trade, of an interval before the open bar's, counts in the
//     open bar: its size in Volume and VWAP, its price in High and Low,
//     not in Open or Close, and it is counted in Late.
//
// So a bar is final when the first trade of a later interval is folded;
// the last bar of a symbol stays open until then, unless the workers close
// bars by the clock (WorkerOptions.CloseAfter), after which a trade of a
// closed interval is in no bar. The rule is a function
// of the trades and their order alone, so Build, given a stream's trades,
// gives exactly the bars the workers published (Replay).
//
// # Effectively once
//
// Consumer groups deliver at least once. Each symbol's fold state (its
// open bars, and the ID of the last trade folded) is stored version-
// guarded by the last trade's Seq, and each stream entry names the entry
// before it (StreamEvent.Prev): a worker folds an entry only onto the
// state whose last entry is the one before it. A redelivered entry, at or
// before the state's, is acknowledged without being folded again; one
// whose predecessor is not folded yet (delivered to another worker) is
// left pending, and claimed in order later. Final bars are published with
// their start as the version, so publishing one again (after a crash
// between the publish and the state's write) is refused. A trade is
// therefore counted once, however often it is delivered.
package bars

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache/trading"
)

// VWAPPlaces is the number of decimal places of Bar.VWAP.
const VWAPPlaces = 8

// IntervalName is how an interval is named in a Bar and in its key.
func IntervalName(d time.Duration) string { return trading.IntervalName(d) }

// Key is the market_data key of symbol's final bars of an interval.
func Key(symbol string, interval time.Duration) string { return trading.BarKey(symbol, interval) }

// openBar is one interval's open bar in a symbol's fold state.
type openBar struct {
	Has      bool            `json:"has"`
	Bar      trading.Bar     `json:"bar"`
	Notional decimal.Decimal `json:"notional"` // sum of price × size
	// Recent are the volumes of the interval's last final bars, oldest
	// first, at most the rolling window less one.
	Recent []decimal.Decimal `json:"recent"`
	// Closed is the start of the last bar closed by the clock
	// (WorkerOptions.CloseAfter) while no bar was open: a later trade of
	// that interval or an earlier one has no bar to go to.
	Closed time.Time `json:"closed"`
}

// state is a symbol's fold state.
type state struct {
	LastID string    `json:"last_id"` // the stream entry last folded
	Seq    uint64    `json:"seq"`     // its trade's Seq: the state's version
	Open   []openBar `json:"open"`    // by interval, in the builder's order
}

// folder folds trades with a builder's intervals and window.
type folder struct {
	intervals []time.Duration
	rolling   int
}

func (f folder) newState() *state { return &state{Open: make([]openBar, len(f.intervals))} }

func startOf(at time.Time, d time.Duration) time.Time {
	ms := d.Milliseconds()
	u := at.UnixMilli()
	s := u / ms * ms
	if u < 0 && u%ms != 0 {
		s -= ms
	}
	return time.UnixMilli(s).UTC()
}

// fold folds trade t into st and returns the bars it made final, in
// interval order, and how many of its intervals had no bar for it (it
// came after the clock closed its bar: see WorkerOptions.CloseAfter).
func (f folder) fold(st *state, t trading.Trade) (final []trading.Bar, dropped int) {
	notional := t.Price.Mul(t.Size)
	for i, d := range f.intervals {
		ob := &st.Open[i]
		start := startOf(t.At, d)
		switch {
		case !ob.Has && !ob.Closed.IsZero() && !start.After(ob.Closed):
			dropped++ // its bar, or a later one, was closed by the clock and published: no bar takes it
		case !ob.Has || start.After(ob.Bar.Start):
			if ob.Has {
				final = append(final, f.close(ob))
			}
			ob.Has = true
			ob.Bar = trading.Bar{Symbol: t.Symbol, Interval: IntervalName(d), Open: t.Price, High: t.Price, Low: t.Price,
				Close: t.Price, Volume: t.Size, Start: start, Seq: t.Seq, Trades: 1}
			ob.Notional = notional
		default:
			b := &ob.Bar
			if t.Price.GreaterThan(b.High) {
				b.High = t.Price
			}
			if t.Price.LessThan(b.Low) {
				b.Low = t.Price
			}
			if start.Equal(b.Start) {
				b.Close = t.Price
			} else {
				b.Late++ // of an earlier interval: see the package doc
			}
			b.Volume = b.Volume.Add(t.Size)
			ob.Notional = ob.Notional.Add(notional)
			b.Seq = t.Seq
			b.Trades++
		}
	}
	st.Seq = t.Seq
	return final, dropped
}

// close makes ob's bar final: it returns it, with its VWAP and rolling
// volume, and keeps its volume for the next bars' rolling volume.
func (f folder) close(ob *openBar) trading.Bar {
	b := f.finish(ob)
	ob.Recent = append(ob.Recent, ob.Bar.Volume)
	if n := len(ob.Recent) - (f.rolling - 1); n > 0 {
		ob.Recent = append(ob.Recent[:0], ob.Recent[n:]...)
	}
	return b
}

// closeBy closes, as of now, the open bars whose interval ended more than
// after ago, and returns them: a symbol that stops trading has its last
// bars closed by the clock.
func (f folder) closeBy(st *state, now time.Time, after time.Duration) (final []trading.Bar) {
	for i, d := range f.intervals {
		ob := &st.Open[i]
		if ob.Has && now.After(ob.Bar.Start.Add(d+after)) {
			final = append(final, f.close(ob))
			ob.Has, ob.Closed = false, ob.Bar.Start
		}
	}
	return final
}

// finish returns ob's bar with its VWAP and rolling volume.
func (f folder) finish(ob *openBar) trading.Bar {
	b := ob.Bar
	if !b.Volume.IsZero() {
		b.VWAP = ob.Notional.DivRound(b.Volume, VWAPPlaces)
	}
	b.RollingVolume = b.Volume
	for _, v := range ob.Recent {
		b.RollingVolume = b.RollingVolume.Add(v)
	}
	return b
}

// Options tune a Builder or a Worker. Zero fields mean the defaults given.
type Options struct {
	// Intervals are the bar intervals (1 s and 1 min), each a whole
	// number of milliseconds.
	Intervals []time.Duration
	// Rolling is how many bars of an interval Bar.RollingVolume covers,
	// the bar itself included (5).
	Rolling int
}

func (o Options) withDefaults() (Options, error) {
	if len(o.Intervals) == 0 {
		o.Intervals = []time.Duration{time.Second, time.Minute}
	}
	for _, d := range o.Intervals {
		if d < time.Millisecond || d%time.Millisecond != 0 {
			return o, fmt.Errorf("bars: interval %v: want a whole number of milliseconds, at least one", d)
		}
	}
	if o.Rolling <= 0 {
		o.Rolling = 5
	}
	return o, nil
}

// Build folds one symbol's trades, in stream order, as the workers do,
// and returns the final bars, by interval name, in order. The last bar of
// each interval is open, and not returned. It is the offline twin of the
// workers, and what Replay runs.
func Build(trades []trading.Trade, opts Options) (map[string][]trading.Bar, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	f := folder{intervals: opts.Intervals, rolling: opts.Rolling}
	st := f.newState()
	out := map[string][]trading.Bar{}
	for _, t := range trades {
		final, _ := f.fold(st, t)
		for _, b := range final {
			out[b.Interval] = append(out[b.Interval], b)
		}
	}
	return out, nil
}
