package bars

import (
	"context"
	"fmt"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/trading"
)

// Replay rebuilds symbol's bars from the trades its stream retains
// between stream IDs from and to ("-" and "+" for all; feed.Time turns a
// time into one), with Build: after a restart, or to check what the
// workers published. A window that starts where the workers' fold started
// gives the same bars they published; one that starts later begins its
// own bars there.
func Replay(ctx context.Context, c *tradecache.Cache, symbol, from, to string, opts Options) (map[string][]trading.Bar, error) {
	s := tradecache.StreamOf(c.Namespace(tradecache.NamespaceMarketData), trading.Key(symbol, trading.KindTrade))
	var trades []trading.Trade
	const page = 1000
	for {
		evs, err := s.Range(ctx, from, to, page)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			var t trading.Trade
			if err := e.Decode(&t); err != nil || t.Symbol != symbol || t.Seq == 0 {
				continue // the workers pass over what is not a trade too
			}
			trades = append(trades, t)
		}
		if len(evs) < page {
			break
		}
		from = "(" + evs[len(evs)-1].ID // exclusive: after the last one read
	}
	bars, err := Build(trades, opts)
	if err != nil {
		return nil, fmt.Errorf("bars: replay of %s: %w", symbol, err)
	}
	return bars, nil
}

// Published returns the final bars of symbol and interval that the
// workers published, from the bar stream, oldest first.
func Published(ctx context.Context, c *tradecache.Cache, symbol string, interval string) ([]trading.Bar, error) {
	s := tradecache.StreamOf(c.Namespace(tradecache.NamespaceMarketData), trading.Key(symbol, trading.KindBar)+":"+interval)
	var out []trading.Bar
	from := "-"
	const page = 1000
	for {
		evs, err := s.Range(ctx, from, "+", page)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			var b trading.Bar
			if err := e.Decode(&b); err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		if len(evs) < page {
			return out, nil
		}
		from = "(" + evs[len(evs)-1].ID
	}
}
