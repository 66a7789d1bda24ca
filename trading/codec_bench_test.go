package trading_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/trading"
)

func benchQuote() trading.Quote {
	ny, _ := time.LoadLocation("America/New_York")
	return trading.Quote{Symbol: "AAPL", Bid: decimal.RequireFromString("150.00"), Ask: decimal.RequireFromString("150.02"),
		BidSize: decimal.RequireFromString("300"), AskSize: decimal.RequireFromString("0"), Seq: 123456,
		At: time.Date(2026, 11, 26, 9, 30, 0, 123456789, ny)}
}

// A quote through the generated methods beside the reflective codec, in
// one run: go test -run '^$' -bench QuoteCodec -benchmem ./trading.
// Goal: decode at most 250 ns and one allocation.
func BenchmarkQuoteCodec(b *testing.B) {
	q := benchQuote()
	for _, path := range []struct {
		name string
		opts codec.Options
	}{{"canonical", codec.Options{}}, {"reflective", codec.Options{Reflective: true}}} {
		c, err := codec.New(path.opts)
		if err != nil {
			b.Fatal(err)
		}
		buf, _ := c.Marshal("", q)
		b.Run("Decode/"+path.name, func(b *testing.B) {
			b.ReportAllocs()
			var out trading.Quote
			for b.Loop() {
				if err := c.Unmarshal("", buf, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Encode/"+path.name, func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]byte, 0, 256)
			for b.Loop() {
				dst, _ = c.AppendMarshal(dst[:0], "", q)
			}
		})
	}
}
