// Package trading is the trading layer over a tradecache.Cache: market
// data with version-guarded writes, sessions with a sliding TTL and a
// hard lifetime, and cache warming. It uses only the Cache's API and never
// reaches Redis directly.
package trading

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
)

// Kind is a kind of market data.
type Kind string

// The kinds of market data.
const (
	KindQuote Kind = "quote"
	KindTrade Kind = "trade"
	KindBar   Kind = "bar"
	KindBook  Kind = "book"
)

//go:generate go run ../cmd/tradecache-gen -type Quote,Trade,Bar,Book

// Quote is a top-of-book quote. Prices and sizes are exact decimals.
type Quote struct {
	Symbol  string          `json:"symbol" tradecache:"intern"`
	Bid     decimal.Decimal `json:"bid"`
	Ask     decimal.Decimal `json:"ask"`
	BidSize decimal.Decimal `json:"bid_size"`
	AskSize decimal.Decimal `json:"ask_size"`
	Seq     uint64          `json:"seq"`
	At      time.Time       `json:"at"`
}

// Trade is one print.
type Trade struct {
	Symbol string          `json:"symbol" tradecache:"intern"`
	Price  decimal.Decimal `json:"price"`
	Size   decimal.Decimal `json:"size"`
	Seq    uint64          `json:"seq"`
	At     time.Time       `json:"at"`
}

// Bar is an OHLCV bar. Package bars builds them from the feed's trades,
// and fills the fields after Seq; a bar cached by hand may leave them zero.
type Bar struct {
	Symbol   string          `json:"symbol" tradecache:"intern"`
	Interval string          `json:"interval" tradecache:"intern"`
	Open     decimal.Decimal `json:"open"`
	High     decimal.Decimal `json:"high"`
	Low      decimal.Decimal `json:"low"`
	Close    decimal.Decimal `json:"close"`
	Volume   decimal.Decimal `json:"volume"`
	Start    time.Time       `json:"start"`
	Seq      uint64          `json:"seq"` // the last trade's
	// VWAP is the volume-weighted average price, rounded half away from
	// zero to 8 decimal places; RollingVolume the volume of this bar and
	// the bars of the same interval before it, over the builder's window.
	VWAP          decimal.Decimal `json:"vwap"`
	RollingVolume decimal.Decimal `json:"rolling_volume"`
	// Trades counts the bar's trades, Late those that arrived after a
	// later bar had begun (see package bars for the rule).
	Trades uint64 `json:"trades"`
	Late   uint64 `json:"late"`
}

// Level is one price level of a book.
type Level struct {
	Price decimal.Decimal `json:"price"`
	Size  decimal.Decimal `json:"size"`
}

// Book is an order-book snapshot.
type Book struct {
	Symbol string    `json:"symbol" tradecache:"intern"`
	Bids   []Level   `json:"bids"`
	Asks   []Level   `json:"asks"`
	Seq    uint64    `json:"seq"`
	At     time.Time `json:"at"`
}

// ErrNoSequence is returned for market data whose sequence number is 0:
// without one, a write cannot be ordered against others.
var ErrNoSequence = errors.New("trading: market data needs a sequence number (or exchange timestamp) above 0")

// Market caches market data in the market_data namespace under
// "<symbol>:<kind>", with the namespace's TTL policy.
//
// Versions never go backwards within a process: a read never returns a
// version lower than one any Market over the same Cache already returned
// or wrote for that key (they share one high-water mark per Cache) (within the namespace's TTL, as long as Redis keeps the version
// itself), and a write of a lower one is not applied. A Redis restarted
// from an older snapshot, or a failover to a replica that was behind, can
// lose the newest versions; such a read fails with ErrWentBack instead of
// presenting the past as the present, and is counted (WentBack).
type Market struct {
	ns       *tradecache.Namespace
	seen     *highWater
	wentBack atomic.Uint64
}

// NewMarket returns the market-data view of c. Every Market over c shares
// c's high-water marks: one created after a restore from an older snapshot
// refuses what an earlier one had seen go past.
func NewMarket(c *tradecache.Cache) *Market {
	ns := c.Namespace(tradecache.NamespaceMarketData)
	return &Market{ns: ns, seen: highWaterOf(c, ns.DefaultTTL())}
}

// ErrWentBack is returned for market data whose version in Redis is lower
// than one this process already read or wrote: the store lost writes (a
// restart from an older snapshot, a failover to a lagging replica).
var ErrWentBack = errors.New("trading: the stored version is older than one this process already saw")

// WentBack counts the reads refused with ErrWentBack.
func (m *Market) WentBack() uint64 { return m.wentBack.Load() }

// versioned is market data that carries its version.
type versioned interface{ Quote | Trade | Bar | Book }

func version[T versioned](v T) uint64 {
	switch x := any(v).(type) { // the compiler resolves it per T: no boxing
	case Quote:
		return x.Seq
	case Trade:
		return x.Seq
	case Bar:
		return x.Seq
	case Book:
		return x.Seq
	}
	return 0
}

// checkRead refuses a value older than hw, what this Market had seen for
// key when the read began (a write that completes while the read is in
// flight is concurrent with it, and may rightly not be seen), and
// otherwise records its version.
func (m *Market) checkRead(key string, v uint64, hw seen) error {
	if v == 0 {
		return nil
	}
	if m.seen.refuses(hw, v) {
		m.wentBack.Add(1)
		return fmt.Errorf("%w: %s at version %d, this process saw %d", ErrWentBack, key, v, hw.v)
	}
	m.seen.raise(key, v)
	return nil
}

func key(symbol string, kind Kind) string { return symbol + ":" + string(kind) }

// keysOf is key of each symbol, built in one allocation: a batch of 100
// made 100 before.
func keysOf(symbols []string, kind Kind) []string {
	n := 0
	for _, s := range symbols {
		n += len(s) + 1 + len(kind)
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range symbols {
		b.WriteString(s)
		b.WriteByte(':')
		b.WriteString(string(kind))
	}
	all := b.String()
	keys := make([]string, len(symbols))
	off := 0
	for i, s := range symbols {
		end := off + len(s) + 1 + len(kind)
		keys[i], off = all[off:end], end
	}
	return keys
}

// Key is the key of symbol's market data of kind in the market_data
// namespace ("AAPL:quote"): where CacheMarketData stores it, and what
// package feed publishes under, so that both name one value.
func Key(symbol string, kind Kind) string { return key(symbol, kind) }

// CacheMarketData stores data for symbol if seq is newer than what is
// stored (an exchange timestamp in nanoseconds serves as well as a sequence
// number), and reports whether it was applied: a late or out-of-order
// publisher never overwrites newer data. The check and the write are one
// atomic step on the server.
func (m *Market) CacheMarketData(ctx context.Context, symbol string, kind Kind, seq uint64, data any) (applied bool, err error) {
	if seq == 0 {
		return false, ErrNoSequence
	}
	switch kind {
	case KindQuote, KindTrade, KindBar, KindBook:
	default:
		return false, fmt.Errorf("trading: unknown market data kind %q: %w", kind, tradecache.ErrInvalidArgument)
	}
	k := key(symbol, kind)
	if m.seen.refuses(m.seen.get(k), seq) {
		return false, nil // older than what this process saw: Redis may have lost the newer one
	}
	applied, err = m.ns.SetIfNewer(ctx, k, data, seq, 0)
	if applied {
		m.seen.raise(k, seq)
	}
	return applied, err
}

// CacheQuote stores q under its symbol, guarded by q.Seq.
func (m *Market) CacheQuote(ctx context.Context, q Quote) (bool, error) {
	return m.CacheMarketData(ctx, q.Symbol, KindQuote, q.Seq, q)
}

// get reads through the namespace's near tier when it has one (a plain
// Get otherwise): quotes, trades and bars are values whose decimals are
// immutable, so sharing the held copy between callers is safe.
func get[T versioned](ctx context.Context, m *Market, symbol string, kind Kind) (T, bool, error) {
	k := key(symbol, kind)
	hw := m.seen.get(k)
	v, found, err := tradecache.GetNear[T](ctx, m.ns, k)
	if err == nil && found {
		if err := m.checkRead(k, version(v), hw); err != nil {
			var zero T
			return zero, false, err
		}
	}
	return v, found, err
}

// Quote returns symbol's latest quote.
func (m *Market) Quote(ctx context.Context, symbol string) (Quote, bool, error) {
	return get[Quote](ctx, m, symbol, KindQuote)
}

// Trade returns symbol's latest trade.
func (m *Market) Trade(ctx context.Context, symbol string) (Trade, bool, error) {
	return get[Trade](ctx, m, symbol, KindTrade)
}

// Bar returns symbol's latest bar, as CacheMarketData stored it.
func (m *Market) Bar(ctx context.Context, symbol string) (Bar, bool, error) {
	return get[Bar](ctx, m, symbol, KindBar)
}

// IntervalBar returns symbol's latest final bar of interval, as package
// bars published it (under BarKey), through the near tier when the
// namespace has one.
func (m *Market) IntervalBar(ctx context.Context, symbol string, interval time.Duration) (Bar, bool, error) {
	k := BarKey(symbol, interval)
	hw := m.seen.get(k)
	v, found, err := tradecache.GetNear[Bar](ctx, m.ns, k)
	if err == nil && found {
		if err := m.checkRead(k, uint64(v.Start.UnixMilli()), hw); err != nil {
			return Bar{}, false, err
		}
	}
	return v, found, err
}

// IntervalName is how an interval is named in a Bar and in its key: "1s",
// "1m", "1h", or milliseconds ("250ms").
func IntervalName(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// BarKey is the market_data key of symbol's final bars of an interval
// ("AAPL:bar:1m"), as package bars publishes them: its stream holds every
// final bar, versioned by the bar's start, and its value the latest.
func BarKey(symbol string, interval time.Duration) string {
	return key(symbol, KindBar) + ":" + IntervalName(interval)
}

// Book returns symbol's latest order-book snapshot. It never reads
// through the near tier: a held book's level slices would be shared with
// every caller, and one that changed them would change the cache's copy.
func (m *Market) Book(ctx context.Context, symbol string) (Book, bool, error) {
	var b Book
	k := key(symbol, KindBook)
	hw := m.seen.get(k)
	found, err := m.ns.Get(ctx, k, &b)
	if err == nil && found {
		if err := m.checkRead(k, b.Seq, hw); err != nil {
			return Book{}, false, err
		}
	}
	return b, found, err
}

// Quotes returns the latest quotes of symbols in one round trip (one MGET
// per MaxBatchSize symbols, or, with a near tier, only for the quotes it
// does not hold); symbols without a quote are left out. A quote older than
// one this process saw is left out too, and the error then matches
// ErrWentBack, beside the others.
func (m *Market) Quotes(ctx context.Context, symbols []string) (map[string]Quote, error) {
	keys := keysOf(symbols, KindQuote)
	hws := make([]seen, len(symbols))
	for i, k := range keys {
		hws[i] = m.seen.get(k)
	}
	out := make(map[string]Quote, len(keys))
	var back []error
	err := tradecache.OfNamespace[Quote](m.ns).GetManyNearFunc(ctx, keys, func(i int, q Quote) {
		if err := m.checkRead(keys[i], q.Seq, hws[i]); err != nil {
			back = append(back, err)
			return
		}
		out[q.Symbol] = q
	})
	if err != nil {
		return nil, err
	}
	return out, errors.Join(back...)
}
