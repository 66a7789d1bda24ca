package feed_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/keyslot"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/trading"
	"github.com/tradecache/tradecache/trading/feed"
)

// An entry appended with raw XADD by someone with write access to Redis,
// chained to the real last entry, whose version is far above the quote it
// carries (or unreadable), must not silence the symbol: it is refused with
// an error the subscriber sees, and every genuine update after it is
// delivered (or covered by a Resync). No entry is skipped silently.
func TestAPlantedEntryDoesNotSilenceASymbol(t *testing.T) {
	for _, tc := range []struct{ name, version string }{
		{"version above its value", "00000000001000000026"},
		{"unreadable version", "not-a-version"},
		{"version going down", "00000000000000000003"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			c := newCache(t, tradecache.Config{Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr}})
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			f := feed.New(c, feed.Options{Block: 50 * time.Millisecond})
			for seq := uint64(1); seq <= 25; seq++ {
				if _, err := f.Publish(ctx, quote("PLNT", seq)); err != nil {
					t.Fatal(err)
				}
			}
			full := "trading:market_data:" + trading.Key("PLNT", trading.KindQuote)
			stream, _ := keyslot.Companion(full, " stream")
			raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			last, err := raw.Do(ctx, raw.B().Xrevrange().Key(stream).End("+").Start("-").Count(1).Build()).AsXRange()
			if err != nil || len(last) != 1 {
				t.Fatal(last, err)
			}
			plant := func() {
				// The planted value is a genuine envelope of a quote with Seq 26.
				ns := c.Namespace(tradecache.NamespaceMarketData)
				if err := ns.Set(ctx, "planted-scratch", quote("PLNT", 26), 0); err != nil {
					t.Error(err)
				}
				env, err := raw.Do(ctx, raw.B().Get().Key("trading:market_data:planted-scratch").Build()).ToString()
				if err != nil {
					t.Error(err)
				}
				if err := raw.Do(ctx, raw.B().Xadd().Key(stream).Id("*").FieldValue().FieldValue("v", tc.version).
					FieldValue("d", env).FieldValue("p", last[0].ID).Build()).Error(); err != nil {
					t.Error(err)
				}
			}
			seen := map[uint64]bool{}
			errs := 0
			var wg sync.WaitGroup
			defer wg.Wait()
			publishAfterPlant := func() {
				plant()
				for seq := uint64(26); seq <= 28; seq++ {
					if _, err := f.Publish(ctx, quote("PLNT", seq)); err != nil {
						t.Error(err)
					}
				}
			}
			for u, err := range f.Subscribe(ctx, []string{"PLNT"}) {
				if err != nil {
					errs++
					t.Logf("refused: %v", err)
					continue
				}
				seen[u.Quote.Seq] = true
				if u.Snapshot && !u.Resync && u.Quote.Seq == 25 {
					wg.Add(1)
					go func() { defer wg.Done(); publishAfterPlant() }() // subscribed: now the entry is planted under the subscriber
				}
				if seen[28] {
					break
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("the updates after the planted entry never came: saw %v", seen)
			}
			if errs == 0 {
				t.Fatal("the planted entry was skipped silently: no error reached the subscriber")
			}
			if got := f.Stats().Refused; got == 0 {
				t.Fatalf("Stats().Refused = %d, want the planted entry counted", got)
			}
		})
	}
}

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
