package bars

import (
	"context"
	"iter"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/trading"
)

// Update is one bar as Subscribe yields it.
type Update struct {
	Bar trading.Bar
	// ID is the bar's entry in its stream.
	ID string
	// Current marks the latest final bar when the subscription began.
	Current bool
}

// Subscribe yields each symbol's latest final bar of interval, then every
// bar the workers publish for the symbols, in order per symbol, as they
// close, until ctx ends or the loop breaks. A failed read is yielded as an
// error, and the subscription continues from the last bar it yielded.
func Subscribe(ctx context.Context, c *tradecache.Cache, symbols []string, interval time.Duration) iter.Seq2[Update, error] {
	return func(yield func(Update, error) bool) {
		md := c.Namespace(tradecache.NamespaceMarketData)
		after := make([]string, len(symbols))
		for i, s := range symbols {
			var b trading.Bar
			snap, err := tradecache.StreamOf(md, Key(s, interval)).Snapshot(ctx, &b)
			if err != nil {
				if !yield(Update{}, err) {
					return
				}
			}
			after[i] = snap.LastID
			if after[i] == "" {
				after[i] = "0-0"
			}
			if snap.Found && !yield(Update{Bar: b, ID: snap.LastID, Current: true}, nil) {
				return
			}
		}
		// One symbol's stream a read (on a cluster they live in different
		// slots), each waiting a share of half a second.
		block := max(20*time.Millisecond, 500*time.Millisecond/time.Duration(max(1, len(symbols))))
		for ctx.Err() == nil {
			for i, s := range symbols {
				evs, err := tradecache.StreamsOf(md).Read(ctx, []string{Key(s, interval)}, after[i:i+1], 100, block)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					if !yield(Update{}, err) {
						return
					}
					time.Sleep(100 * time.Millisecond)
					continue
				}
				for _, e := range evs[0] {
					var b trading.Bar
					err := e.Decode(&b)
					after[i] = e.ID
					if !yield(Update{Bar: b, ID: e.ID}, err) {
						return
					}
				}
			}
		}
	}
}
