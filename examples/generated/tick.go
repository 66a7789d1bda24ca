// Package generated shows cmd/tradecache-gen on a user's own struct: the
// directive below writes canonical_gen.go, whose methods let the codec
// encode and decode a Tick without reflection (trading.Quote, the same
// shape, decodes 4-6× faster in BenchmarkQuoteCodec, with one allocation
// for all of its decimals), and canonical_gen_test.go, which
// holds them to the reflective codec. Run go generate after changing the
// struct; a stale file still works (anything it does not read falls back
// to reflection), but its test fails.
package generated

import (
	"time"

	"github.com/shopspring/decimal"
)

//go:generate go run ../../cmd/tradecache-gen -type Tick

// Tick is a user's quote type: the same fields, on the wire, as
// trading.Quote.
type Tick struct {
	Symbol string          `json:"symbol" tradecache:"intern"`
	Bid    decimal.Decimal `json:"bid"`
	Ask    decimal.Decimal `json:"ask"`
	BidSz  decimal.Decimal `json:"bid_size"`
	AskSz  decimal.Decimal `json:"ask_size"`
	Seq    uint64          `json:"seq"`
	At     time.Time       `json:"at"`
}
