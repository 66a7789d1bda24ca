package trading_test

import (
	"testing"

	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/codec/codectest"
	"github.com/tradecache/tradecache/trading"
)

// FuzzCanonicalDecoders feeds the same bytes to the generated decoders and
// to the reflective codec: every input must give the same value or the
// same error (make fuzz runs it; go test runs the seeds). The fuzzer's
// own timing and memory limits catch a decoder whose work grows faster
// than its input.
func FuzzCanonicalDecoders(f *testing.F) {
	c, err := codec.New(codec.Options{CompressThreshold: -1})
	if err != nil {
		f.Fatal(err)
	}
	q := benchQuote()
	for _, v := range []any{q, trading.Trade{Symbol: "AAPL", Price: q.Bid, Size: q.BidSize, Seq: 9, At: q.At},
		trading.Bar{Symbol: "AAPL", Interval: "1m", Open: q.Bid, High: q.Ask, Low: q.Bid, Close: q.Ask, Volume: q.BidSize, Start: q.At, Seq: 3},
		trading.Book{Symbol: "AAPL", Bids: []trading.Level{{Price: q.Bid, Size: q.BidSize}}, Asks: []trading.Level{}, Seq: 4, At: q.At}} {
		b, err := c.Marshal("", v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		codectest.Decode[trading.Quote](t, data)
		codectest.Decode[trading.Trade](t, data)
		codectest.Decode[trading.Bar](t, data)
		codectest.Decode[trading.Book](t, data)
	})
}
