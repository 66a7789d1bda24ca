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
func (f *Feed) Consume(ctx context.Context, group, consumer string, symbols []string, handler Handler, opts ConsumeOptions) error {
	opts = opts.withDefaults()
	if len(symbols) == 0 {
		return errors.New("feed: Consume needs at least one symbol")
	}
	var wg sync.WaitGroup
	errs := make([]error, len(symbols))
	for i, s := range symbols {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f.consume(ctx, group, consumer, s, handler, opts)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// consume runs one symbol's stream for the consumer.
func (f *Feed) consume(ctx context.Context, group, consumer, symbol string, handler Handler, opts ConsumeOptions) error {
	key := quoteKey(symbol)
	pause := f.opts.Retry
	wait := func() {
		select {
		case <-time.After(pause):
		case <-ctx.Done():
		}
		pause = min(2*pause, 2*time.Second)
	}
	lastClaim := time.Time{}
	claimFrom := "0-0"
	for ctx.Err() == nil {
		if time.Since(lastClaim) >= opts.ClaimEvery {
			evs, next, err := f.ns.Claim(ctx, key, group, consumer, opts.MinIdle, claimFrom, f.opts.Count)
			if err != nil {
				wait()
				continue
			}
			claimFrom = next
			if next == "0-0" {
				lastClaim = time.Now() // the scan is through; the next starts over later
			}
			for _, e := range evs {
				if !f.handle(ctx, group, symbol, key, e, handler, opts) {
					return nil
				}
			}
		}
		block := min(f.opts.Block, opts.ClaimEvery)
		evs, err := f.ns.GroupRead(ctx, key, group, consumer, f.opts.Count, block)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			wait()
			continue
		}
		pause = f.opts.Retry
		for _, e := range evs {
			if !f.handle(ctx, group, symbol, key, e, handler, opts) {
				return nil
			}
		}
	}
	return nil
}

// handle runs the handler on one entry and settles it: acknowledged on
// success, dead-lettered when it cannot be decoded or has failed
// MaxDeliveries times, left pending otherwise. It reports false when ctx
// ended, the entry left pending for another delivery.
func (f *Feed) handle(ctx context.Context, group, symbol, key string, e tradecache.StreamEvent, handler Handler, opts ConsumeOptions) bool {
	var q trading.Quote
	if err := e.Decode(&q); err != nil {
		_ = f.ns.DeadLetter(ctx, group, e, "cannot decode: "+err.Error())
		return ctx.Err() == nil
	}
	err := handler(ctx, Update{Symbol: symbol, Quote: q, ID: e.ID, Lag: time.Since(e.Time()), Deliveries: e.Deliveries})
	if ctx.Err() != nil {
		return false // interrupted: not acknowledged, delivered again
	}
	switch {
	case err == nil:
		_ = f.ns.Ack(ctx, key, group, e.ID) // a lost ack means one more delivery, which at-least-once allows
	case e.Deliveries >= opts.MaxDeliveries:
		_ = f.ns.DeadLetter(ctx, group, e, fmt.Sprintf("delivery %d: %v", e.Deliveries, err))
	}
	return true
}
