package feed_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/trading"
	"github.com/tradecache/tradecache/trading/feed"
)

// Consume over 200 symbols with a pool of 10 connections beside 50
// goroutines of Get: the consumers' blocking reads (queued for the pool,
// or finding nothing) never count against the breaker that the Gets go
// through. Before, one goroutine per symbol queued for the pool, their
// deadlines passed, and 138 of 555 Gets failed with "circuit breaker open".
func TestConsumeDoesNotOpenTheBreakerForOtherCalls(t *testing.T) {
	srv := redistest.Start(t)
	off := false
	c, err := tradecache.New(context.Background(), tradecache.Config{
		Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr, MaxConnections: 10}, LogSlowOps: &off, PublishStats: &off})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := feed.New(c, feed.Options{Block: 200 * time.Millisecond})
	syms := make([]string, 200)
	for i := range syms {
		syms[i] = fmt.Sprintf("C%03d", i)
		if _, err := f.Publish(ctx, quote(syms[i], 1)); err != nil {
			t.Fatal(err)
		}
	}
	consumed := make(chan error, 1)
	go func() {
		consumed <- f.Consume(ctx, "g", "w1", syms, func(context.Context, feed.Update) error { return nil },
			feed.ConsumeOptions{MinIdle: time.Second})
	}()
	ns := c.Namespace(tradecache.NamespaceMarketData)
	var calls, breakerErrs atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(3 * time.Second)
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; time.Now().Before(deadline); i++ {
				var q trading.Quote
				_, err := ns.Get(ctx, trading.Key(syms[i%len(syms)], trading.KindQuote), &q)
				calls.Add(1)
				if errors.Is(err, tradecache.ErrUnavailable) {
					breakerErrs.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	st := c.Stats(ctx)
	cancel()
	if err := <-consumed; err != nil {
		t.Fatal(err)
	}
	t.Logf("Consume over 200 symbols, MaxConnections 10, beside 50 goroutines of Get: %d Gets, %d unavailable, breaker opened %d times",
		calls.Load(), breakerErrs.Load(), st.BreakerTransitions.Opened)
	if breakerErrs.Load() > 0 || st.BreakerTransitions.Opened > 0 {
		t.Fatalf("%d of %d Gets failed as unavailable; the breaker opened %d times", breakerErrs.Load(), calls.Load(), st.BreakerTransitions.Opened)
	}
}
