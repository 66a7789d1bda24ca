package feed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/trading"
)

// ConsumeOptions tune Consume. Zero fields mean the defaults given.
type ConsumeOptions struct {
	// MinIdle is how long an entry stays pending on a consumer before
	// another may claim it (30 s): longer than a handler ever takes, or
	// entries being handled are handled twice.
	MinIdle time.Duration
	// ClaimEvery is how often a consumer looks for entries to claim
	// (MinIdle / 2).
	ClaimEvery time.Duration
	// MaxDeliveries is how many times an entry is delivered before a
	// failure sends it to the dead-letter stream (5).
	MaxDeliveries int64
}

func (o ConsumeOptions) withDefaults() ConsumeOptions {
	if o.MinIdle <= 0 {
		o.MinIdle = 30 * time.Second
	}
	if o.ClaimEvery <= 0 {
		o.ClaimEvery = max(o.MinIdle/2, time.Millisecond)
	}
	if o.MaxDeliveries <= 0 {
		o.MaxDeliveries = 5
	}
	return o
}

// Handler handles one update for a consumer group. Returning nil
// acknowledges it; an error leaves it pending, to be delivered again (to
// this consumer or another) after MinIdle, or dead-lettered with the
// error once it has been delivered MaxDeliveries times.
type Handler func(ctx context.Context, u Update) error

// Consume reads the symbols' streams as consumer in group (created at the
// streams' start when missing) and calls handler for each entry, one
// symbol's entries in order, until ctx ends; it then returns nil. It claims
// entries left pending by consumers that stopped. A handler interrupted by
// ctx's end is not acknowledged: its entry is delivered again. Failed
// reads are retried, from where the group stands, until the store answers
// again.
//
// It reads with at most Options.Readers goroutines, as Subscribe does, and
// so holds at most that many blocking connections: one goroutine per
// symbol over 200 symbols queued for a pool of MaxConnections. A reader of
// several symbols reads each in turn without waiting, and waits (up to
// Poll) on one of them, in rotation, only when none had anything.
func (f *Feed) Consume(ctx context.Context, group, consumer string, symbols []string, handler Handler, opts ConsumeOptions) error {
	opts = opts.withDefaults()
	if len(symbols) == 0 {
		return errors.New("feed: Consume needs at least one symbol")
	}
	readers := make([][]*consumerState, min(len(symbols), f.opts.Readers))
	for i, s := range symbols {
		readers[i%len(readers)] = append(readers[i%len(readers)], &consumerState{symbol: s, key: quoteKey(s), claimFrom: "0-0", pause: f.opts.Retry})
	}
	var wg sync.WaitGroup
	for _, mine := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.consumeAll(ctx, group, consumer, mine, handler, opts)
		}()
	}
	wg.Wait()
	return nil
}

// consumerState is where one symbol's consumption stands.
type consumerState struct {
	symbol, key string
	lastClaim   time.Time
	claimFrom   string
	pause       time.Duration // the next pause after a failed read
	retryAt     time.Time     // no read before this, after a failure
}

// consumeAll runs one reader's symbols until ctx ends.
func (f *Feed) consumeAll(ctx context.Context, group, consumer string, mine []*consumerState, handler Handler, opts ConsumeOptions) {
	rot := 0
	for ctx.Err() == nil {
		got, ready := false, 0
		for _, st := range mine {
			if time.Now().Before(st.retryAt) {
				continue
			}
			ready++
			block := time.Duration(0) // several symbols: none waits in turn
			if len(mine) == 1 {
				block = min(f.opts.Block, opts.ClaimEvery)
			}
			n, ok := f.step(ctx, group, consumer, st, handler, opts, block)
			if !ok {
				return
			}
			got = got || n > 0
		}
		if got || ctx.Err() != nil {
			continue
		}
		if ready == 0 || len(mine) == 1 {
			// Every symbol is backing off after a failure (or the one symbol
			// just failed): wait for the earliest.
			next := mine[0].retryAt
			for _, st := range mine[1:] {
				if st.retryAt.Before(next) {
					next = st.retryAt
				}
			}
			select {
			case <-time.After(time.Until(next)):
			case <-ctx.Done():
			}
			continue
		}
		// Nothing anywhere: wait on one symbol, in rotation.
		st := mine[rot%len(mine)]
		rot++
		if time.Now().Before(st.retryAt) {
			continue
		}
		if _, ok := f.step(ctx, group, consumer, st, handler, opts, min(f.opts.Poll, opts.ClaimEvery)); !ok {
			return
		}
	}
}

// step claims st's idle entries when due, then reads and handles what the
// group has for the consumer, waiting up to block. It returns how many
// entries it handled, and false when ctx ended.
func (f *Feed) step(ctx context.Context, group, consumer string, st *consumerState, handler Handler, opts ConsumeOptions, block time.Duration) (int, bool) {
	failed := func() {
		st.retryAt = time.Now().Add(st.pause)
		st.pause = min(2*st.pause, 2*time.Second)
	}
	n := 0
	if time.Since(st.lastClaim) >= opts.ClaimEvery {
		evs, next, err := tradecache.StreamOf(f.ns, st.key).Group(group).Claim(ctx, consumer, opts.MinIdle, st.claimFrom, f.opts.Count)
		if err != nil {
			failed()
			return 0, ctx.Err() == nil
		}
		st.claimFrom = next
		if next == "0-0" {
			st.lastClaim = time.Now() // the scan is through; the next starts over later
		}
		for _, e := range evs {
			if !f.handle(ctx, group, st.symbol, st.key, e, handler, opts) {
				return n, false
			}
			n++
		}
	}
	evs, err := tradecache.StreamOf(f.ns, st.key).Group(group).Read(ctx, consumer, f.opts.Count, block)
	if err != nil {
		if ctx.Err() != nil {
			return n, false
		}
		failed()
		return n, true
	}
	st.pause = f.opts.Retry
	for _, e := range evs {
		if !f.handle(ctx, group, st.symbol, st.key, e, handler, opts) {
			return n, false
		}
		n++
	}
	return n, true
}

// handle runs the handler on one entry and settles it: acknowledged on
// success, dead-lettered when it cannot be decoded or has failed
// MaxDeliveries times, left pending otherwise. It reports false when ctx
// ended, the entry left pending for another delivery.
func (f *Feed) handle(ctx context.Context, group, symbol, key string, e tradecache.StreamEvent, handler Handler, opts ConsumeOptions) bool {
	var q trading.Quote
	if err := e.Decode(&q); err != nil {
		_ = tradecache.StreamOf(f.ns, e.Key).Group(group).DeadLetter(ctx, e, "cannot decode: "+err.Error())
		return ctx.Err() == nil
	}
	err := handler(ctx, Update{Symbol: symbol, Quote: q, ID: e.ID, Lag: time.Since(e.Time()), Deliveries: e.Deliveries})
	if ctx.Err() != nil {
		return false // interrupted: not acknowledged, delivered again
	}
	switch {
	case err == nil:
		_ = tradecache.StreamOf(f.ns, key).Group(group).Ack(ctx, e.ID) // a lost ack means one more delivery, which at-least-once allows
	case e.Deliveries >= opts.MaxDeliveries:
		_ = tradecache.StreamOf(f.ns, e.Key).Group(group).DeadLetter(ctx, e, fmt.Sprintf("delivery %d: %v", e.Deliveries, err))
	}
	return true
}
