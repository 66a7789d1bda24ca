package feed_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/trading"
	"github.com/tradecache/tradecache/trading/feed"
)

// A publisher, a subscriber and a consumer group on one feed. (It needs
// Redis, so it is compiled but not run as a test; the tests in this
// package run the same calls against real servers.)
func Example() {
	ctx := context.Background()
	cfg, err := tradecache.ConfigFromEnv() // REDIS_URL=redis://127.0.0.1:6379
	if err != nil {
		log.Fatal(err)
	}
	c, err := tradecache.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	f := feed.New(c, feed.Options{})

	// Publish: the last value and a stream entry, in one step, guarded by Seq.
	q := trading.Quote{Symbol: "AAPL", Bid: decimal.RequireFromString("189.25"), Ask: decimal.RequireFromString("189.27"),
		Seq: 42, At: time.Now()}
	if _, err := f.Publish(ctx, q); err != nil {
		log.Fatal(err)
	}

	// Subscribe: the current quote, then every update, no gap, no duplicate.
	sub, stop := context.WithTimeout(ctx, time.Second)
	defer stop()
	for u, err := range f.Subscribe(sub, []string{"AAPL", "MSFT"}) {
		if err != nil {
			log.Print(err) // the subscription goes on from where it was
			continue
		}
		fmt.Println(u.Symbol, u.Quote.Seq, u.Snapshot)
	}

	// Consume: share the updates between workers; at least once, claimed
	// from a worker that dies, dead-lettered after repeated failures.
	work, done := context.WithTimeout(ctx, time.Second)
	defer done()
	pnl := c.Namespace("pnl")
	_ = f.Consume(work, "pnl", "worker-1", []string{"AAPL"}, func(ctx context.Context, u feed.Update) error {
		// Idempotent: the version guard makes a second delivery a no-op.
		_, err := pnl.SetIfNewer(ctx, u.Symbol, u.Quote.Bid, u.Quote.Seq, 0)
		return err
	}, feed.ConsumeOptions{MinIdle: 30 * time.Second, MaxDeliveries: 5})

	// Replay: the retained window, page by page.
	for u, err := range f.Replay(ctx, "AAPL", feed.Time(time.Now().Add(-time.Minute)), "+") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(u.ID, u.Quote.Seq)
	}
}
