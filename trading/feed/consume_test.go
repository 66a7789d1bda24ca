package feed_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/internal/testkit"
	"github.com/tradecache/tradecache/store/guard"
	"github.com/tradecache/tradecache/trading"
	"github.com/tradecache/tradecache/trading/feed"
)

// Consume over 200 symbols with a pool of 10 connections beside 50
// goroutines of Get: the consumers' blocking reads (queued for the pool,
// or finding nothing) never count against the breaker that the Gets go
// through. Before, one goroutine per symbol queued for the pool, their
// deadlines passed, and 138 of 555 Gets failed with "circuit breaker open"
// while not one Get had timed out.
//
// What the breaker may hold against the store here is the Gets' own
// failures: on a machine so loaded that redis-server itself waits for a
// CPU (make test runs pytest and two test binaries beside it), Gets time
// out and the breaker opens, as it should. (CI saw that once: 19133 of
// 52318 Gets refused after one opening.) So a round in which the breaker
// opened fails the test only when no Get's deadline had passed before the
// first refusal: then nothing but Consume's reads can have opened it. A round in
// which Gets timed out first says nothing of Consume, and another round
// runs, up to three.
func TestConsumeDoesNotOpenTheBreakerForOtherCalls(t *testing.T) {
	srv := redistest.Start(t)
	off := false
	var openings testkit.SyncBuffer // the breaker's "opened" records, with their last failure: what opened it
	c, err := tradecache.New(context.Background(), tradecache.Config{
		Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr, MaxConnections: 10}, LogSlowOps: &off, PublishStats: &off},
		tradecache.WithLogger(slog.New(slog.NewTextHandler(&openings, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f := feed.New(c, feed.Options{Block: 200 * time.Millisecond})
	syms := make([]string, 200)
	for i := range syms {
		syms[i] = fmt.Sprintf("C%03d", i)
		if _, err := f.Publish(context.Background(), quote(syms[i], 1)); err != nil {
			t.Fatal(err)
		}
	}
	for round := 1; ; round++ {
		r := consumeBesideGets(t, c, f, syms, fmt.Sprintf("g%d", round))
		t.Logf("round %d: Consume over 200 symbols, MaxConnections 10, beside 50 goroutines of Get: %d Gets, %d timed out, %d refused (breaker open); the breaker opened %d times",
			round, r.calls, r.timeouts, r.refused, r.opened)
		if r.opened > 0 {
			t.Logf("what the breaker has logged as it opened:\n%s", openings.String())
		}
		switch {
		case r.refused == 0 && r.opened == 0:
			return
		case !r.timedOutFirst:
			t.Fatalf("the breaker opened %d times and refused %d of %d Gets, and no Get's deadline had passed before the first refusal: Consume's reads opened it",
				r.opened, r.refused, r.calls)
		case round == 3:
			t.Fatalf("in 3 rounds, Gets timed out before the breaker opened every time: redis-server was too slow throughout to tell what Consume does")
		}
	}
}

type consumeRound struct {
	calls, timeouts, refused int64
	opened                   uint64
	timedOutFirst            bool // a Get's deadline passed before the first Get was refused
}

func consumeBesideGets(t *testing.T, c *tradecache.Cache, f *feed.Feed, syms []string, group string) consumeRound {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	openedBefore := c.Stats(ctx).BreakerTransitions.Opened
	consumed := make(chan error, 1)
	go func() {
		consumed <- f.Consume(ctx, group, "w1", syms, func(context.Context, feed.Update) error { return nil },
			feed.ConsumeOptions{MinIdle: time.Second})
	}()
	ns := c.Namespace(tradecache.NamespaceMarketData)
	var calls, timeouts, refused atomic.Int64
	// The earliest moment a timed-out Get's deadline passed, and the
	// earliest moment a Get had been refused (taken after it returned):
	// a timeout that opened the breaker had its deadline pass before the
	// opening, and every refusal returns after it, whatever the scheduler
	// did between the library's return and these readings.
	var firstDeadline, firstRefusal atomic.Int64 // unix nanoseconds
	earliest := func(a *atomic.Int64, t time.Time) {
		for n := t.UnixNano(); ; {
			if cur := a.Load(); cur != 0 && cur <= n || a.CompareAndSwap(cur, n) {
				return
			}
		}
	}
	var wg sync.WaitGroup
	deadline := time.Now().Add(3 * time.Second)
	for g := range 50 {
		wg.Go(func() {
			for i := g; time.Now().Before(deadline); i++ {
				var q trading.Quote
				start := time.Now()
				_, err := ns.Get(ctx, trading.Key(syms[i%len(syms)], trading.KindQuote), &q)
				calls.Add(1)
				switch {
				case errors.Is(err, guard.ErrOpen):
					refused.Add(1)
					earliest(&firstRefusal, time.Now())
				case errors.Is(err, tradecache.ErrTimeout):
					timeouts.Add(1)
					earliest(&firstDeadline, start.Add(tradecache.DefaultOpTimeout))
				}
			}
		})
	}
	wg.Wait()
	st := c.Stats(ctx)
	cancel()
	if err := <-consumed; err != nil {
		t.Fatal(err)
	}
	fd, fr := firstDeadline.Load(), firstRefusal.Load()
	return consumeRound{calls: calls.Load(), timeouts: timeouts.Load(), refused: refused.Load(),
		opened: st.BreakerTransitions.Opened - openedBefore, timedOutFirst: fd != 0 && (fr == 0 || fd < fr)}
}
