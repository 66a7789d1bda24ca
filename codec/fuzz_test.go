package codec_test

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
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
		codec.Vector32{1.5, -2, 0}, codec.Vector64{3.25}, map[string]any{"emb": codec.Vector32{0.5}},
	} {
		b, err := c.Marshal("k", v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// Tagged values, plain and stamped (extension 4 around 3).
	for _, st := range []*codec.Stamp{nil, {AsOf: time.Unix(1795703400, 0), FreshFor: time.Second}} {
		b, err := c.AppendMarshalTagged(nil, "k", sampleQuote(), st, []codec.Tag{{Name: "sym:AAPL", Token: "k7Jq2"}, {Name: "refdata", Token: "t"}})
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

// FuzzExtensions feeds arbitrary payloads to the decimal and time
// extension parsers through a whole envelope: whatever decodes must encode
// to bytes that decode to the same value.
func FuzzExtensions(f *testing.F) {
	c, err := codec.New(codec.Options{})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct {
		id   int8
		data []byte
	}{
		{1, []byte{0x03, 0x3a, 0x98}}, {1, []byte{0x0f, 0x00}}, {1, append([]byte{0x11}, make([]byte, 13)...)},
		{2, []byte{0, 0, 0, 0, 0, 0, 0, 0, 1}}, {2, []byte{4, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}},
		{2, append([]byte{2, 0x1d, 0x6f, 0x28, 0, 0x6b, 0x08, 0x42, 0x68, 0x9f, 0x8c, 0x02}, "America/New_York"...)},
	} {
		f.Add(seed.id == 1, seed.data)
	}
	f.Fuzz(func(t *testing.T, isDecimal bool, payload []byte) {
		if len(payload) > 250 {
			return
		}
		id := byte(2)
		if isDecimal {
			id = 1
		}
		env := append([]byte{0x10, 0xc7, byte(len(payload)), id}, payload...)
		var v any
		if err := c.Unmarshal("", env, &v); err != nil {
			if strings.Contains(err.Error(), "decoder panicked") {
				t.Fatal(err)
			}
			return
		}
		again, err := c.Marshal("", v)
		if err != nil {
			t.Fatalf("decoded %#v but cannot encode it: %v", v, err)
		}
		var w any
		if err := c.Unmarshal("", again, &w); err != nil {
			t.Fatalf("re-encoded %#v does not decode: %v", v, err)
		}
		switch x := v.(type) {
		case decimal.Decimal:
			y := w.(decimal.Decimal)
			if x.Exponent() != y.Exponent() || x.Coefficient().Cmp(y.Coefficient()) != 0 {
				t.Fatalf("decimal changed on a round trip: %v -> %v", x, y)
			}
		case time.Time:
			y := w.(time.Time)
			_, o1 := x.Zone()
			_, o2 := y.Zone()
			if !x.Equal(y) || o1 != o2 {
				t.Fatalf("time changed on a round trip: %v -> %v", x, y)
			}
		}
	})
}

// FuzzSealed feeds arbitrary bytes to a sealing codec: they must be
// refused with a sealing or format error, never a panic, never accepted.
func FuzzSealed(f *testing.F) {
	ring, err := codec.NewKeyring(codec.Key{ID: "k", Secret: make([]byte, 32)})
	if err != nil {
		f.Fatal(err)
	}
	c, err := codec.New(codec.Options{Keys: ring, Seal: true})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := c.Marshal("sk", "secret")
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{0x11, 1, 'k'})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Only a genuine seal of "secret" under key k opens: fuzz workers
		// re-run this function with a fresh nonce in good, so compare the
		// plaintext, not the bytes.
		var s string
		err := c.Unmarshal("sk", data, &s)
		if err == nil && s != "secret" {
			t.Fatalf("accepted forged sealed bytes % x as %q", data, s)
		}
		if err != nil && strings.Contains(err.Error(), "decoder panicked") {
			t.Fatal(err)
		}
	})
}

// FuzzAmplification fails when decoding costs more than a bounded amount
// of work per byte read: at most 4 KiB allocated per input byte above a
// 4 MiB floor, and at most a second, whatever the bytes declare. Its seeds
// include the bombs that once cost gigabytes (a few kilobytes of zstd that
// decompress to millions of empty maps, an s2 block that declares 64 MiB).
func FuzzAmplification(f *testing.F) {
	c, err := codec.New(codec.Options{})
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range []any{"x", sampleQuote(), []Quote{sampleQuote(), sampleQuote()}, map[string]any{"a": []any{1, "b"}},
		codec.Vector32(make([]float32, 1000)), codec.Vector64{1, 2}} {
		b, _ := c.Marshal("k", v)
		f.Add(b)
	}
	tagged, _ := c.AppendMarshalTagged(nil, "k", "x", nil, []codec.Tag{{Name: "t", Token: "1"}})
	f.Add(tagged)
	e, _ := zstd.NewWriter(nil)
	maps := append([]byte{0xdd, 0, 0x40, 0, 0}, bytes.Repeat([]byte{0x80}, 4<<20)...)
	f.Add(append([]byte{0x12}, e.EncodeAll(maps, nil)...))
	f.Add(append([]byte{0x14}, s2.Encode(nil, maps)...))
	f.Add([]byte{0x1c, 0x80, 0x80, 0x80, 0x20, 0x00, 0x00, 0x00}) // s2, raw: declares 64 MiB
	f.Fuzz(func(t *testing.T, data []byte) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		start := time.Now()
		var v any
		_ = c.Unmarshal("k", data, &v)
		var q Quote
		_ = c.Unmarshal("k", data, &q)
		took := time.Since(start)
		runtime.ReadMemStats(&ms)
		if alloc, limit := ms.TotalAlloc-before, uint64(4<<20+4096*len(data)); alloc > limit {
			t.Fatalf("%d input bytes cost %d bytes of allocation (limit %d)", len(data), alloc, limit)
		}
		if took > time.Second {
			t.Fatalf("%d input bytes took %v to decode", len(data), took)
		}
	})
}
