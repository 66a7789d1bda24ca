package tradecache_test

import (
	"context"
	"fmt"

	"github.com/tradecache/tradecache"
)

// A key's stream: Publish stores the value and appends the update in one
// step; Snapshot reads the value with the stream's last ID, after which
// Range gives every later update; a consumer group shares the entries
// between workers.
func ExampleStreamOf() {
	ctx := context.Background()
	cache, err := tradecache.New(ctx, tradecache.Config{}) // the in-memory store keeps streams too
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	orders := tradecache.StreamOf(cache.Namespace("orders"), "desk-1")

	_, _, _ = orders.Publish(ctx, "new AAPL 100", 1)
	var v string
	snap, _ := orders.Snapshot(ctx, &v)
	fmt.Println(v, snap.Version)
	_, _, _ = orders.Publish(ctx, "fill AAPL 100", 2)
	_, _, _ = orders.Publish(ctx, "old", 1) // not above version 2: refused
	later, _ := orders.Range(ctx, "("+snap.LastID, "+", 10)
	for _, e := range later {
		_ = e.Decode(&v)
		fmt.Println(v, e.Version, e.Prev == snap.LastID)
	}

	risk := orders.Group("risk")
	got, _ := risk.Read(ctx, "worker-1", 10, 0)
	_ = risk.Ack(ctx, got[0].ID)
	pending, _ := risk.Pending(ctx)
	fmt.Println(len(got), "read,", pending, "pending")
	// Output:
	// new AAPL 100 1
	// fill AAPL 100 2 true
	// 2 read, 1 pending
}

// Many streams at once: PublishMany in one round trip, and Read of every
// key after the IDs a reader holds, over the sets Partition gives (one on
// a single server).
func ExampleStreamsOf() {
	ctx := context.Background()
	cache, err := tradecache.New(ctx, tradecache.Config{})
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	quotes := tradecache.StreamsOf(cache.Namespace(tradecache.NamespaceMarketData))

	keys := []string{"AAPL:quote", "MSFT:quote"}
	res, _ := quotes.PublishMany(ctx, []tradecache.Update{{Key: keys[0], Value: "150.00", Version: 1}, {Key: keys[1], Value: "410.10", Version: 1}})
	fmt.Println(res[0].Applied, res[1].Applied)
	for _, set := range quotes.Partition(keys) {
		ks := make([]string, len(set))
		after := make([]string, len(set)) // "": from the start
		for j, i := range set {
			ks[j] = keys[i]
		}
		events, _ := quotes.Read(ctx, ks, after, 10, 0)
		for j, es := range events {
			var v string
			_ = es[0].Decode(&v)
			fmt.Println(ks[j], v, len(es))
		}
	}
	// Output:
	// true true
	// AAPL:quote 150.00 1
	// MSFT:quote 410.10 1
}
