package codec_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache/codec"
)

// FuzzUnmarshal feeds arbitrary bytes to the decoder. It must never panic,
// never allocate past its caps, and whatever it accepts into an interface{}
// must encode and decode again. Run it longer with `make fuzz`.
func FuzzUnmarshal(f *testing.F) {
	c, err := codec.New(codec.Options{CompressThreshold: 16, MaxDecodedSize: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	for _, v := range []any{
		"x", 42, -1.5, nil, []byte{1, 2}, map[string]any{"a": 1, "b": []any{"c", true}},
		decimal.RequireFromString("150.00"), decimal.RequireFromString("0E-8"),
		time.Date(2026, 11, 26, 9, 30, 0, 7, ny), sampleQuote(),
		[]Quote{sampleQuote(), sampleQuote(), sampleQuote()}, // compressed
	} {
		b, err := c.Marshal("k", v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Unmarshal turns a decoder panic into an error so production
		// callers survive it; here any such panic is a bug to fix.
		noPanic := func(err error) error {
			if err != nil && strings.Contains(err.Error(), "decoder panicked") {
				t.Fatal(err)
			}
			return err
		}
		var q Quote
		_ = noPanic(c.Unmarshal("k", data, &q))
		var tm time.Time
		_ = noPanic(c.Unmarshal("k", data, &tm))
		var d decimal.Decimal
		_ = noPanic(c.Unmarshal("k", data, &d))
		var v any
		if err := noPanic(c.Unmarshal("k", data, &v)); err != nil {
			return
		}
		b, err := c.Marshal("k", v)
		if err != nil {
			t.Fatalf("decoded %#v but cannot encode it again: %v", v, err)
		}
		var again any
		if err := c.Unmarshal("k", b, &again); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
	})
}

func sampleQuote() Quote {
	ny, _ := time.LoadLocation("America/New_York")
	return Quote{Symbol: "AAPL", Bid: decimal.RequireFromString("150.00"), Ask: decimal.RequireFromString("150.02"),
		BidSz: decimal.RequireFromString("300"), Seq: 123456, At: time.Date(2026, 11, 26, 9, 30, 0, 123456789, ny)}
}

func BenchmarkQuote(b *testing.B) {
	c, _ := codec.New(codec.Options{})
	q := sampleQuote()
	buf, _ := c.Marshal("k", q)
	b.Run("Encode", func(b *testing.B) {
		b.ReportAllocs()
		dst := make([]byte, 0, 256)
		for b.Loop() {
			var err error
			if dst, err = c.AppendMarshal(dst[:0], "k", q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out Quote
			if err := c.Unmarshal("k", buf, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
