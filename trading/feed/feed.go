// Package feed is a real-time market-data feed on Redis Streams, built on
// tradecache's streams: publish a quote with its last value in one atomic
// step, subscribe to a consistent snapshot and then every later update
// with no gap and no duplicate, replay a window, and share work between
// consumers that may crash.
//
// # Guarantees
//
//   - Publish applies a quote only above the stored version, and appends it
//     to the symbol's stream in the same step: the stream holds exactly the
//     applied updates, in version order.
//   - Subscribe yields each symbol's value at one instant (Snapshot), then
//     every update applied after that instant, in version order, each
//     once. A subscriber that falls behind the retained window (the
//     stream was trimmed past what it had read) is told (Resync) and
//     continues from a new snapshot; its memory is bounded by Buffer.
//   - Consume delivers each entry to one consumer of a group at a time and
//     acknowledges it only after the handler returns nil: delivery is at
//     least once. An entry whose consumer died is claimed by another after
//     MinIdle; one that fails MaxDeliveries times goes to the symbol's
//     dead-letter stream with the error. A handler that writes its effect
//     with a version guard (Namespace.SetIfNewer, keyed by what it
//     computes and versioned by Update.Quote.Seq) applies each effect once
//     however many times it runs: effectively once.
//
// Redis replicates asynchronously: an update acknowledged by a master that
// dies before its replica copied it is lost with that master, from the
// value and the stream alike. What survives a failover is a prefix of what
// was published, never a value without its entry or the other way round.
package feed

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/trading"
)

// Options tune a Feed. Zero fields mean the defaults given.
type Options struct {
	// Buffer is how many updates a subscription holds for a consumer that
	// has not taken them yet (1024); beyond it the readers wait, and a
	// consumer that stays behind longer than the retention resyncs.
	Buffer int
	// Block is how long one read waits for new entries (1 s).
	Block time.Duration
	// Count is how many entries one read takes per symbol (256).
	Count int
	// Retry is the pause after a failed read before the next (100 ms,
	// doubling to 2 s while the store stays down).
	Retry time.Duration
	// Readers bounds the goroutines, and so the blocking connections, one
	// subscription reads with (4). On a Redis Cluster one read covers one
	// hash slot, so symbols in many slots share the readers: each reads
	// its slots in turn without waiting, and waits (up to Poll) only when
	// none had anything.
	Readers int
	// Poll is how long a reader of several slots waits on one of them
	// when all were empty (10 ms): the most an update in another slot may
	// wait to be read.
	Poll time.Duration
	// Near keeps each subscribed symbol's quote in the market_data
	// namespace's near tier (when it has one): the subscription reads the
	// quote again, tracked, at its snapshot and after each update, before
	// yielding it, so that Market.Quote on a subscribed symbol is served
	// from memory and is current. It costs a round trip per update.
	Near bool
}

func (o Options) withDefaults() Options {
	if o.Buffer <= 0 {
		o.Buffer = 1024
	}
	if o.Block <= 0 {
		o.Block = time.Second
	}
	if o.Count <= 0 {
		o.Count = 256
	}
	if o.Retry <= 0 {
		o.Retry = 100 * time.Millisecond
	}
	if o.Readers <= 0 {
		o.Readers = 4
	}
	if o.Poll <= 0 {
		o.Poll = 10 * time.Millisecond
	}
	return o
}

// Feed publishes and streams quotes in the market_data namespace, under the
// keys Market uses: a quote published here is the one Market.Quote reads.
type Feed struct {
	ns     *tradecache.Namespace
	opts   Options
	counts struct{ delivered, refused, resyncs atomic.Uint64 }
}

// Stats are what a Feed's subscriptions did with the entries they read.
// Every entry read is delivered, refused (the subscriber saw an error), or
// covered by a Resync: none is skipped without a trace.
type Stats struct {
	Delivered uint64 // updates yielded, snapshots included
	// Refused counts entries that are not what Publish writes: a version
	// that is missing or unreadable, that disagrees with the quote's Seq,
	// that does not rise along the chain, or a value that does not decode.
	// Each was yielded as an error, followed by a Resync.
	Refused uint64
	Resyncs uint64 // snapshots read again: a broken chain or a refused entry
}

// Stats returns the Feed's figures since New.
func (f *Feed) Stats() Stats {
	return Stats{Delivered: f.counts.delivered.Load(), Refused: f.counts.refused.Load(), Resyncs: f.counts.resyncs.Load()}
}

// New returns a Feed over c.
func New(c *tradecache.Cache, opts Options) *Feed {
	return &Feed{ns: c.Namespace(tradecache.NamespaceMarketData), opts: opts.withDefaults()}
}

func quoteKey(symbol string) string { return trading.Key(symbol, trading.KindQuote) }

// Publish stores q as symbol's last quote if q.Seq is above the stored
// version, and appends it to the symbol's stream, in one atomic step. It
// reports whether it was applied.
func (f *Feed) Publish(ctx context.Context, q trading.Quote) (bool, error) {
	if q.Seq == 0 {
		return false, trading.ErrNoSequence
	}
	applied, _, err := tradecache.StreamOf(f.ns, quoteKey(q.Symbol)).Publish(ctx, q, q.Seq)
	return applied, err
}

// PublishMany publishes quotes of many symbols in one pipelined round
// trip, and reports which were applied.
func (f *Feed) PublishMany(ctx context.Context, qs []trading.Quote) ([]bool, error) {
	us := make([]tradecache.Update, len(qs))
	for i, q := range qs {
		if q.Seq == 0 {
			return nil, fmt.Errorf("%s: %w", q.Symbol, trading.ErrNoSequence)
		}
		us[i] = tradecache.Update{Key: quoteKey(q.Symbol), Value: q, Version: q.Seq}
	}
	return f.publishMany(ctx, us)
}

// publishMany publishes us in one pipelined round trip and reports which
// were applied, joining the updates' own errors.
func (f *Feed) publishMany(ctx context.Context, us []tradecache.Update) ([]bool, error) {
	rs, err := tradecache.StreamsOf(f.ns).PublishMany(ctx, us)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(rs))
	var errs []error
	for i, r := range rs {
		out[i] = r.Applied
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return out, errors.Join(errs...)
}

// PublishTrade stores t as its symbol's last trade if t.Seq is above the
// stored version, and appends it to the symbol's trade stream
// ("<symbol>:trade"), in one atomic step, as Publish does for quotes:
// Market.Trade reads it, and package bars builds bars from the stream.
func (f *Feed) PublishTrade(ctx context.Context, t trading.Trade) (bool, error) {
	if t.Seq == 0 {
		return false, trading.ErrNoSequence
	}
	applied, _, err := tradecache.StreamOf(f.ns, trading.Key(t.Symbol, trading.KindTrade)).Publish(ctx, t, t.Seq)
	return applied, err
}

// PublishTrades publishes trades of many symbols in one pipelined round
// trip, and reports which were applied.
func (f *Feed) PublishTrades(ctx context.Context, ts []trading.Trade) ([]bool, error) {
	us := make([]tradecache.Update, len(ts))
	for i, t := range ts {
		if t.Seq == 0 {
			return nil, fmt.Errorf("%s: %w", t.Symbol, trading.ErrNoSequence)
		}
		us[i] = tradecache.Update{Key: trading.Key(t.Symbol, trading.KindTrade), Value: t, Version: t.Seq}
	}
	return f.publishMany(ctx, us)
}

// ErrBadEntry marks a stream entry a subscription refused because it is
// not what Publish writes (see Stats.Refused).
var ErrBadEntry = errors.New("not an entry Publish wrote")

// compareIDs orders two stream entry IDs ("<ms>-<seq>"); an unreadable
// one sorts first.
func compareIDs(a, b string) int {
	am, as := splitID(a)
	bm, bs := splitID(b)
	if am != bm {
		return cmpU(am, bm)
	}
	return cmpU(as, bs)
}

func splitID(id string) (ms, seq uint64) {
	for i := range len(id) {
		if id[i] == '-' {
			ms, _ = strconv.ParseUint(id[:i], 10, 64)
			seq, _ = strconv.ParseUint(id[i+1:], 10, 64)
			return ms, seq
		}
	}
	ms, _ = strconv.ParseUint(id, 10, 64)
	return ms, 0
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Update is one quote as a subscriber or consumer receives it.
type Update struct {
	Symbol string
	Quote  trading.Quote
	// ID is the stream entry's ID; for a snapshot, the ID of the stream's
	// last entry when it was read.
	ID string
	// Snapshot marks the value read at subscription; Resync one read
	// again because the subscriber fell behind the retained window, after
	// which the updates continue from it.
	Snapshot, Resync bool
	// Lag is from the entry's append to its delivery, by the server's
	// clock for the append and this process's for the delivery.
	Lag time.Duration
	// Deliveries counts the deliveries of a consumer group's entry, this
	// one included.
	Deliveries int64
}

type item struct {
	u   Update
	err error
}

// Subscribe yields the current quote of each symbol that has one, then
// every later update of every symbol, in version order per symbol, with no
// gap and no duplicate (see the package doc). A failed read is yielded as
// an error, and the subscription continues from the last update it
// delivered when the store answers again; break out of the loop to end
// it. Memory is bounded: the readers wait when Buffer updates are
// waiting for the consumer.
func (f *Feed) Subscribe(ctx context.Context, symbols []string) iter.Seq2[Update, error] {
	return func(yield func(Update, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		ch := make(chan item, f.opts.Buffer)
		var wg sync.WaitGroup
		defer func() {
			cancel()
			wg.Wait()
		}()
		keys := make([]string, len(symbols))
		for i, s := range symbols {
			keys[i] = quoteKey(s)
		}
		groups := tradecache.StreamsOf(f.ns).Partition(keys)
		readers := make([][][]string, min(len(groups), f.opts.Readers))
		for gi, group := range groups {
			syms := make([]string, len(group))
			for j, i := range group {
				syms[j] = symbols[i]
			}
			readers[gi%len(readers)] = append(readers[gi%len(readers)], syms)
		}
		for _, r := range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.read(ctx, r, ch)
			}()
		}
		for {
			select {
			case <-ctx.Done():
				return
			case it := <-ch:
				if !yield(it.u, it.err) {
					return
				}
			}
		}
	}
}

// cursor is where a subscription stands on one symbol.
type cursor struct {
	id  string // the last entry delivered, or the snapshot's LastID
	ver uint64
}

// slotGroup is symbols one read can cover (one hash slot on a cluster),
// and where the subscription stands on each.
type slotGroup struct {
	syms, keys, after []string
	cur               []cursor
}

// read runs one reader's groups: snapshots, then reads after each
// symbol's cursor until ctx ends. With one group it waits in the read
// itself (Block); with several it reads each in turn without waiting, and
// waits Poll on one of them, in rotation, when none had anything.
func (f *Feed) read(ctx context.Context, groupSyms [][]string, ch chan<- item) {
	r := &reader{f: f, ctx: ctx, ch: ch, pause: f.opts.Retry}
	groups := make([]*slotGroup, len(groupSyms))
	for gi, syms := range groupSyms {
		g := &slotGroup{syms: syms, keys: make([]string, len(syms)), after: make([]string, len(syms)), cur: make([]cursor, len(syms))}
		for i, s := range syms {
			g.keys[i] = quoteKey(s)
		}
		groups[gi] = g
		for i := range syms {
			if !r.snapshot(g, i, false) {
				return
			}
		}
	}
	rot := 0
	for ctx.Err() == nil {
		got := false
		for _, g := range groups {
			block := time.Duration(0) // several groups: none waits in turn
			if len(groups) == 1 {
				block = f.opts.Block
			}
			some, ok := r.readGroup(g, block)
			if !ok {
				return
			}
			got = got || some
		}
		if !got && len(groups) > 1 {
			// Nothing anywhere: wait on one group, in rotation.
			g := groups[rot%len(groups)]
			rot++
			if _, ok := r.readGroup(g, f.opts.Poll); !ok {
				return
			}
		}
	}
}

// reader is one subscription's reading: where its updates go, and how
// long it waits after a failed read.
type reader struct {
	f     *Feed
	ctx   context.Context
	ch    chan<- item
	pause time.Duration // grows on each failure, back to Options.Retry on a read
}

// send hands it on; false when the subscription ended.
func (r *reader) send(it item) bool {
	select {
	case r.ch <- it:
		return true
	case <-r.ctx.Done():
		return false
	}
}

// fail reports err to the subscriber and waits before the next try, a
// little longer each time; false when the subscription ended.
func (r *reader) fail(err error) bool {
	if r.ctx.Err() != nil || !r.send(item{err: err}) {
		return false
	}
	select {
	case <-time.After(r.pause):
	case <-r.ctx.Done():
		return false
	}
	r.pause = min(2*r.pause, 2*time.Second)
	return true
}

// snapshot reads symbol i of g afresh (its value, its version and the
// stream's last ID) and delivers it; resync says the chain was broken.
// False when the subscription ended.
func (r *reader) snapshot(g *slotGroup, i int, resync bool) bool {
	for {
		var q trading.Quote
		snap, err := tradecache.StreamOf(r.f.ns, g.keys[i]).Snapshot(r.ctx, &q)
		if err != nil {
			if !r.fail(err) {
				return false
			}
			continue
		}
		g.cur[i] = cursor{id: snap.LastID, ver: max(g.cur[i].ver, snap.Version)}
		r.f.holdNear(r.ctx, g.keys[i])
		if resync {
			g.cur[i].ver = snap.Version // the stream may have gone back (a failover lost its tail)
			r.f.counts.resyncs.Add(1)
		}
		if snap.Found {
			r.f.counts.delivered.Add(1)
			return r.send(item{u: Update{Symbol: g.syms[i], Quote: q, ID: snap.LastID, Snapshot: true, Resync: resync}})
		}
		return true
	}
}

// readGroup reads g's streams after what it delivered, waiting up to
// block, and delivers what it read. got says whether there was anything;
// ok is false when the subscription ended.
func (r *reader) readGroup(g *slotGroup, block time.Duration) (got, ok bool) {
	for i := range g.cur {
		g.after[i] = g.cur[i].id
	}
	evs, err := tradecache.StreamsOf(r.f.ns).Read(r.ctx, g.keys, g.after, r.f.opts.Count, block)
	if err != nil {
		return false, r.fail(err)
	}
	r.pause = r.f.opts.Retry
	for _, es := range evs {
		got = got || len(es) > 0
	}
	return got, r.deliver(g, evs)
}

// deliver hands on a group's entries, checking each against the entry
// delivered before it; false when the subscription ended.
func (r *reader) deliver(g *slotGroup, evs [][]tradecache.StreamEvent) bool {
	now := time.Now()
	for i, es := range evs {
		for _, e := range es {
			if e.Prev != g.cur[i].id {
				// The entry before this one is not the one delivered
				// last: the stream was trimmed past this subscriber (or
				// lost its tail in a failover). Start again from a
				// snapshot; the entries after it come next read.
				if !r.snapshot(g, i, true) {
					return false
				}
				break
			}
			q, bad := checkEntry(e, g.cur[i].ver)
			if bad != nil {
				r.f.counts.refused.Add(1)
				if !r.send(item{err: fmt.Errorf("feed: %s entry %s refused: %w: %w", g.syms[i], e.ID, ErrBadEntry, bad)}) {
					return false
				}
				if !r.snapshot(g, i, true) {
					return false
				}
				if compareIDs(g.cur[i].id, e.ID) < 0 {
					g.cur[i].id = e.ID // the snapshot is from before it: do not read it again
				}
				break
			}
			g.cur[i].id = e.ID
			g.cur[i].ver = e.Version
			r.f.holdNear(r.ctx, g.keys[i])
			r.f.counts.delivered.Add(1)
			if !r.send(item{u: Update{Symbol: g.syms[i], Quote: q, ID: e.ID, Lag: now.Sub(e.Time())}}) {
				return false
			}
		}
	}
	return true
}

// checkEntry decodes an entry that follows the one delivered last, at
// version last. Along an intact chain every entry Publish wrote carries a
// version above the one before it, equal to its quote's Seq. One that does
// not was not written by Publish (an entry planted with raw XADD, a
// corrupt one): trusting its version would drop every genuine update
// below it. bad says why it is refused, where the subscriber sees it; the
// reader steps past it and reads the symbol again from a snapshot.
func checkEntry(e tradecache.StreamEvent, last uint64) (q trading.Quote, bad error) {
	switch err := e.Decode(&q); {
	case e.Version == 0:
		bad = errors.New("its version is missing or unreadable")
	case err != nil:
		bad = err
	case q.Seq != e.Version:
		bad = fmt.Errorf("its version %d is not its quote's Seq %d", e.Version, q.Seq)
	case e.Version <= last:
		bad = fmt.Errorf("its version %d does not rise above %d", e.Version, last)
	}
	return q, bad
}

// holdNear reads key through the near tier when Options.Near asks for it:
// a tracked read keeps the current value in memory, and the server's
// invalidation drops it when it changes, until the next update reads it
// again. The update's own invalidation can arrive while the first read is
// in flight, and the tier then rightly declines to keep that read; the
// second read keeps it (when the first was kept, it is a memory hit).
func (f *Feed) holdNear(ctx context.Context, key string) {
	if f.opts.Near {
		for range 2 {
			_, _, _ = tradecache.GetNear[trading.Quote](ctx, f.ns, key) // a failure only leaves the tier without it
		}
	}
}

// Time is a stream position at t, for Replay: the first entry at or after
// t when it starts a range, the last at or before t when it ends one.
func Time(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Replay yields symbol's updates from from to to inclusive: entry IDs, Time
// positions, or "-" and "+" for the ends of what is retained. It reads
// page by page (XRANGE), so a long window costs no more memory than a
// page.
func (f *Feed) Replay(ctx context.Context, symbol, from, to string) iter.Seq2[Update, error] {
	return func(yield func(Update, error) bool) {
		key := quoteKey(symbol)
		start := from
		for {
			page, err := tradecache.StreamOf(f.ns, key).Range(ctx, start, to, f.opts.Count)
			if err != nil {
				yield(Update{}, err)
				return
			}
			for _, e := range page {
				var q trading.Quote
				if err := e.Decode(&q); err != nil {
					if !yield(Update{}, fmt.Errorf("feed: %s entry %s: %w", symbol, e.ID, err)) {
						return
					}
					continue
				}
				if !yield(Update{Symbol: symbol, Quote: q, ID: e.ID}, nil) {
					return
				}
			}
			if len(page) < f.opts.Count {
				return
			}
			start = "(" + page[len(page)-1].ID
		}
	}
}
