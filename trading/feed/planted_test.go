package feed_test

import (
	"context"
	"sync"
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
			plant := func() { plantEntry(t, ctx, c, srv.Addr, "PLNT", tc.version, 26) }
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

// plantEntry appends to symbol's stream, after its last entry and naming
// it, an entry that Publish did not write: version over a genuine envelope
// of a quote with Seq seq (made with a scratch Set and read back raw), as
// someone with write access to Redis could. It may run on any goroutine.
func plantEntry(t *testing.T, ctx context.Context, c *tradecache.Cache, addr, symbol, version string, seq uint64) {
	t.Helper()
	full := "trading:market_data:" + trading.Key(symbol, trading.KindQuote)
	stream, _ := keyslot.Companion(full, " stream")
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Error(err)
		return
	}
	defer raw.Close()
	last, err := raw.Do(ctx, raw.B().Xrevrange().Key(stream).End("+").Start("-").Count(1).Build()).AsXRange()
	if err != nil || len(last) != 1 {
		t.Error(last, err)
		return
	}
	if err := c.Namespace(tradecache.NamespaceMarketData).Set(ctx, "planted-scratch", quote(symbol, seq), 0); err != nil {
		t.Error(err)
		return
	}
	env, err := raw.Do(ctx, raw.B().Get().Key("trading:market_data:planted-scratch").Build()).ToString()
	if err != nil {
		t.Error(err)
		return
	}
	if err := raw.Do(ctx, raw.B().Xadd().Key(stream).Id("*").FieldValue().FieldValue("v", version).
		FieldValue("d", env).FieldValue("p", last[0].ID).Build()).Error(); err != nil {
		t.Error(err)
	}
}
