package codec_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache/codec"
)

// The quote of the budgets in the wire-format issue: symbol, bid, ask and
// last as decimals, volume as an integer, and a timestamp.
func budgetQuote(loc *time.Location) GoldenQuote {
	d := decimal.RequireFromString
	return GoldenQuote{Symbol: "AAPL", Bid: d("150.00"), Ask: d("150.02"), Last: d("150.01"), Volume: 1200,
		TS: time.Date(2026, 11, 26, 9, 30, 0, 123456789, loc)}
}

// The encoded quote is at most 60% of encoding/json's bytes for it. Sizes
// are deterministic, so this is a test, not a benchmark.
func TestQuoteSizeBudget(t *testing.T) {
	c := newCodec(t, codec.Options{})
	for _, loc := range []*time.Location{time.UTC, mustLoc("America/New_York")} {
		q := budgetQuote(loc)
		env, err := c.Marshal("", q)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal(q)
		ratio := float64(len(env)) / float64(len(js))
		t.Logf("%s: envelope %d bytes, encoding/json %d bytes: %.0f%%", loc, len(env), len(js), 100*ratio)
		if ratio > 0.60 {
			t.Errorf("%s: envelope is %.0f%% of JSON (%d vs %d bytes), budget 60%%", loc, 100*ratio, len(env), len(js))
		}
	}
}

// Encoding and decoding the quote each allocate at most 4 times.
// Allocation counts are deterministic, so this too is a test.
func TestQuoteAllocationBudget(t *testing.T) {
	c := newCodec(t, codec.Options{})
	for _, loc := range []*time.Location{time.UTC, mustLoc("America/New_York")} {
		q := budgetQuote(loc)
		buf := make([]byte, 0, 256)
		enc := testing.AllocsPerRun(1000, func() {
			var err error
			if buf, err = c.AppendMarshal(buf[:0], "", q); err != nil {
				t.Fatal(err)
			}
		})
		var out GoldenQuote
		dec := testing.AllocsPerRun(1000, func() {
			if err := c.Unmarshal("", buf, &out); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%s: allocations: encode %.0f, decode %.0f", loc, enc, dec)
		if enc > 4 || dec > 4 {
			t.Fatalf("%s: allocations: encode %.0f, decode %.0f; budget 4 each", loc, enc, dec)
		}
	}
}

// BenchmarkQuoteBudget measures the budgets' times: go test -run '^$'
// -bench QuoteBudget ./codec. Budget: at most 1µs each way.
func BenchmarkQuoteBudget(b *testing.B) {
	c, _ := codec.New(codec.Options{})
	for _, loc := range []*time.Location{time.UTC, mustLoc("America/New_York")} {
		q := budgetQuote(loc)
		buf, _ := c.Marshal("", q)
		js, _ := json.Marshal(q)
		b.Run("Encode/"+loc.String(), func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]byte, 0, 256)
			for b.Loop() {
				dst, _ = c.AppendMarshal(dst[:0], "", q)
			}
			b.ReportMetric(float64(len(buf)), "bytes")
			b.ReportMetric(100*float64(len(buf))/float64(len(js)), "%json")
		})
		b.Run("Decode/"+loc.String(), func(b *testing.B) {
			b.ReportAllocs()
			var out GoldenQuote
			for b.Loop() {
				if err := c.Unmarshal("", buf, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("JSONEncode/"+loc.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = json.Marshal(q)
			}
		})
		b.Run("JSONDecode/"+loc.String(), func(b *testing.B) {
			b.ReportAllocs()
			var out GoldenQuote
			for b.Loop() {
				_ = json.Unmarshal(js, &out)
			}
		})
	}
}
