package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/shopspring/decimal"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tradecache/tradecache/codec"
)

type Quote struct {
	Symbol string          `json:"symbol"`
	Bid    decimal.Decimal `json:"bid"`
	Ask    decimal.Decimal `json:"ask"`
	BidSz  decimal.Decimal `msgpack:"bid_size"`
	Seq    uint64          `json:"seq"`
	At     time.Time       `json:"at"`
	Venue  *string         `json:"venue,omitempty"`
}

func newCodec(t testing.TB, o codec.Options) *codec.Codec {
	t.Helper()
	c, err := codec.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func roundTrip[T any](t *testing.T, c *codec.Codec, in T) T {
	t.Helper()
	b, err := c.Marshal("k", in)
	if err != nil {
		t.Fatalf("Marshal(%v): %v", in, err)
	}
	var out T
	if err := c.Unmarshal("k", b, &out); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	return out
}

func TestDecimalKeepsScale(t *testing.T) {
	c := newCodec(t, codec.Options{})
	for _, s := range []string{"150.00", "-0.0001", "12345678901234567890.123456789", "0E-8", "0", "1E+3", "-99999999999999999999999999999.99"} {
		d := decimal.RequireFromString(s)
		got := roundTrip(t, c, d)
		if got.Exponent() != d.Exponent() || got.Coefficient().Cmp(d.Coefficient()) != 0 {
			t.Errorf("%s: got coefficient %s exponent %d, want %s, %d", s, got.Coefficient(), got.Exponent(), d.Coefficient(), d.Exponent())
		}
		if codec.DecimalString(got) != codec.DecimalString(d) {
			t.Errorf("%s: DecimalString %q, want %q", s, codec.DecimalString(got), codec.DecimalString(d))
		}
	}
	if got := codec.DecimalString(decimal.RequireFromString("150.00")); got != "150.00" {
		t.Fatalf(`DecimalString(150.00) = %q`, got)
	}
}

func TestTimeKeepsZone(t *testing.T) {
	c := newCodec(t, codec.Options{})
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	cases := []time.Time{
		time.Date(2026, 3, 8, 1, 59, 59, 123456789, ny), // just before a DST change
		time.Date(2026, 7, 1, 9, 30, 0, 1, ny),
		time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("IST", 5*3600+1800)),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 6, time.Local),
		{},
	}
	for _, in := range cases {
		got := roundTrip(t, c, in)
		_, wantOff := in.Zone()
		_, gotOff := got.Zone()
		if !got.Equal(in) || gotOff != wantOff {
			t.Errorf("%v: got %v (offset %d), want offset %d", in, got, gotOff, wantOff)
		}
	}
	got := roundTrip(t, c, cases[0])
	if got.Location().String() != "America/New_York" {
		t.Errorf("named zone not restored: %v", got.Location())
	}
	if got.Add(2*time.Second).Format("15:04 MST") != "03:00 EDT" {
		t.Errorf("restored zone does not follow DST: %s", got.Add(2*time.Second).Format("15:04 MST"))
	}
	if z := roundTrip(t, c, time.Time{}); z != (time.Time{}) {
		t.Errorf("zero time came back as %#v", z)
	}
}

func TestStructsMapsSlices(t *testing.T) {
	c := newCodec(t, codec.Options{})
	venue := "XNAS"
	ny, _ := time.LoadLocation("America/New_York")
	q := Quote{Symbol: "AAPL", Bid: decimal.RequireFromString("150.00"), Ask: decimal.RequireFromString("150.01"),
		BidSz: decimal.RequireFromString("100"), Seq: 1 << 40, At: time.Date(2026, 11, 26, 9, 30, 0, 5, ny), Venue: &venue}
	got := roundTrip(t, c, q)
	if got.Bid.String() != q.Bid.String() || got.Bid.StringFixed(2) != "150.00" || got.Bid.Exponent() != -2 || *got.Venue != "XNAS" || got.Seq != q.Seq || !got.At.Equal(q.At) {
		t.Fatalf("got %+v", got)
	}
	m := map[string][]Quote{"a": {q, q}, "b": nil}
	gm := roundTrip(t, c, m)
	if len(gm["a"]) != 2 || gm["a"][1].Ask.Exponent() != -2 || gm["b"] != nil {
		t.Fatalf("map round trip: %+v", gm)
	}
	// Field names follow json tags when there is no msgpack tag.
	b, _ := c.Marshal("k", q)
	var raw map[string]any
	if err := c.Unmarshal("k", b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"symbol", "bid", "bid_size", "at", "venue"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("field %q missing from %v", k, raw)
		}
	}
	if d, ok := raw["bid"].(decimal.Decimal); !ok || d.Exponent() != -2 {
		t.Errorf("decimal decoded into interface{} as %T %v", raw["bid"], raw["bid"])
	}
	if tm, ok := raw["at"].(time.Time); !ok || tm.Location().String() != "America/New_York" {
		t.Errorf("time decoded into interface{} as %T %v", raw["at"], raw["at"])
	}
	if n, ok := raw["seq"].(int64); !ok && raw["seq"] != uint64(1<<40) || ok && n != 1<<40 {
		t.Errorf("seq decoded into interface{} as %T %v", raw["seq"], raw["seq"])
	}
	var nilPtr *Quote
	if got := roundTrip(t, c, nilPtr); got != nil {
		t.Errorf("nil pointer came back as %v", got)
	}
	bs := roundTrip(t, c, []byte{0, 1, 2})
	if !bytes.Equal(bs, []byte{0, 1, 2}) {
		t.Errorf("bytes came back as %v", bs)
	}
}

// quoteLines is about n bytes of quote-like text: compressible 2-4
// times, as market data is, not thousands of times.
func quoteLines(n int) string {
	var sb strings.Builder
	r := rand.New(rand.NewPCG(1, 2))
	for sb.Len() < n {
		fmt.Fprintf(&sb, "AAPL %d.%02d %d;", 100+r.IntN(100), r.IntN(100), r.IntN(10000))
	}
	return sb.String()
}

func TestCompressionAboveThresholdOnlyWhenSmaller(t *testing.T) {
	big := quoteLines(1 << 20) // 1 MiB, compressible
	for _, algo := range []codec.Compression{"", codec.CompressionZstd, codec.CompressionS2} {
		want := algo
		if want == "" {
			want = codec.CompressionZstd
		}
		c := newCodec(t, codec.Options{Compression: algo, CompressThreshold: 64})
		small, _ := c.Marshal("k", strings.Repeat("a", 60))
		if h, _ := codec.ParseHeader(small); h.Compression != codec.CompressionNone {
			t.Fatalf("%s: value under the threshold was compressed", want)
		}
		b, _ := c.Marshal("k", big)
		if h, _ := codec.ParseHeader(b); h.Compression != want || len(b) > len(big)*3/4 {
			t.Fatalf("%s: 1 MiB compressible value: compression %s, %d bytes", want, h.Compression, len(b))
		}
		var back string
		if err := c.Unmarshal("k", b, &back); err != nil || back != big {
			t.Fatalf("%s: compressed round trip: %v", want, err)
		}
		noise := make([]byte, 4096)
		for i := range noise {
			noise[i] = byte(rand.Uint32())
		}
		b, _ = c.Marshal("k", noise)
		if h, _ := codec.ParseHeader(b); h.Compression != codec.CompressionNone {
			t.Fatalf("%s: incompressible value stored compressed although that saved nothing", want)
		}
		// A value that compresses past a reader's expansion bound (1 MiB
		// of repeated text, which zstd shrinks about 1000 times): zstd pads
		// its frame with a skippable one up to the size the bound needs,
		// 1/256 of the payload, so it is stored in 4 KiB rather than 1
		// MiB; an s2 block cannot be padded, so s2 writes it as padded
		// zstd. Either way, what a codec writes, it reads.
		bomb := strings.Repeat("trading ", 1<<17)
		b, _ = c.Marshal("k", bomb)
		if h, _ := codec.ParseHeader(b); h.Compression != codec.CompressionZstd || len(b) > 64<<10 {
			t.Fatalf("%s: 1 MiB of repeated text stored in %d bytes with compression %s, want at most 64 KiB of zstd", want, len(b), h.Compression)
		}
		t.Logf("%s: 1 MiB of repeated text stored in %d bytes", want, len(b))
		if err := c.Unmarshal("k", b, &back); err != nil || back != bomb {
			t.Fatalf("%s: round trip of a very compressible value: %v", want, err)
		}
	}
	off := newCodec(t, codec.Options{CompressThreshold: -1})
	b, _ := off.Marshal("k", big)
	if h, _ := codec.ParseHeader(b); h.Compression != codec.CompressionNone {
		t.Fatal("negative threshold still compressed")
	}
	none := newCodec(t, codec.Options{Compression: codec.CompressionNone})
	b, _ = none.Marshal("k", big)
	if h, _ := codec.ParseHeader(b); h.Compression != codec.CompressionNone {
		t.Fatal("CompressionNone still compressed")
	}
	if _, err := codec.New(codec.Options{Compression: "lz4"}); err == nil {
		t.Fatal("New accepted an unknown compression")
	}
}

// Values written under one compression setting read under any other: the
// algorithm is in the header.
func TestValuesReadAfterCompressionSettingChanges(t *testing.T) {
	big := quoteLines(64 << 10)
	settings := []codec.Options{
		{Compression: codec.CompressionZstd, CompressThreshold: 16},
		{Compression: codec.CompressionS2, CompressThreshold: 16},
		{Compression: codec.CompressionNone},
		{CompressThreshold: -1},
	}
	for _, w := range settings {
		b, err := newCodec(t, w).Marshal("k", big)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range settings {
			var got string
			if err := newCodec(t, r).Unmarshal("k", b, &got); err != nil || got != big {
				t.Fatalf("written with %+v, read with %+v: %v", w, r, err)
			}
		}
	}
}

func TestRawBytesAreStoredVerbatim(t *testing.T) {
	c := newCodec(t, codec.Options{})
	in := []byte{0xc1, 0, 1, 2} // not valid MessagePack: proves it is not parsed
	b, err := c.Marshal("k", in)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := codec.ParseHeader(b); !h.Raw || !bytes.Equal(b[1:], in) {
		t.Fatalf("raw value encoded as % x", b)
	}
	var out []byte
	var s string
	var a any
	if c.Unmarshal("k", b, &out) != nil || !bytes.Equal(out, in) || c.Unmarshal("k", b, &s) != nil || s != string(in) ||
		c.Unmarshal("k", b, &a) != nil || !bytes.Equal(a.([]byte), in) {
		t.Fatalf("raw decode: %v %q %v", out, s, a)
	}
	var n int
	if err := c.Unmarshal("k", b, &n); !errors.Is(err, codec.ErrCorrupt) {
		t.Fatalf("raw into *int = %v, want ErrCorrupt", err)
	}
}

func TestRejectsUnknownHeaders(t *testing.T) {
	c := newCodec(t, codec.Options{})
	good, _ := c.Marshal("k", "x")
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, codec.ErrCorrupt},
		{"version 0", append([]byte{0x00}, good[1:]...), codec.ErrUnsupported},
		{"version 2", append([]byte{0x20}, good[1:]...), codec.ErrUnsupported},
		{"version 15", append([]byte{0xf0}, good[1:]...), codec.ErrUnsupported},
		{"compression 3", append([]byte{0x16}, good[1:]...), codec.ErrUnsupported},
		{"sealed without keys", append([]byte{0x11}, good[1:]...), codec.ErrUnknownKey},
		{"trailing bytes", append(append([]byte{}, good...), 0xc0), codec.ErrCorrupt},
		{"truncated", good[:len(good)-1], codec.ErrCorrupt},
		{"bad zstd", []byte{0x12, 1, 2, 3}, codec.ErrCorrupt},
		{"bad s2", []byte{0x14, 0xff, 0xff, 0xff}, codec.ErrCorrupt},
	} {
		var s string
		if err := c.Unmarshal("k", tc.data, &s); !errors.Is(err, tc.want) {
			t.Errorf("%s: Unmarshal = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestMaxDecodedSize(t *testing.T) {
	r := newCodec(t, codec.Options{MaxDecodedSize: 1 << 20})
	big := []byte(quoteLines(4 << 20)) // compresses 2-4 times: within the expansion bound
	for _, b := range bombs(t, big) {
		var s []byte
		if err := r.Unmarshal("k", b, &s); !errors.Is(err, codec.ErrTooLarge) {
			t.Fatalf("%x: Unmarshal of 4 MiB with a 1 MiB cap = %v, want ErrTooLarge", b[0], err)
		}
	}
	if _, err := codec.New(codec.Options{MaxDecodedSize: -1}); err == nil {
		t.Fatal("New accepted a negative MaxDecodedSize")
	}
}

// Registration is scoped: plain msgpack use elsewhere in the process keeps
// msgpack's own encodings of decimals and times.
func TestRegistrationDoesNotChangePlainMsgpack(t *testing.T) {
	tm := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := msgpack.Marshal(tm)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0xd6 || int8(b[1]) != -1 { // fixext4, type -1
		t.Fatalf("plain msgpack time encoding changed: % x", b)
	}
	var back time.Time
	if err := msgpack.Unmarshal(b, &back); err != nil || !back.Equal(tm) {
		t.Fatalf("plain msgpack time decode: %v %v", back, err)
	}
	d := decimal.RequireFromString("1.50")
	b, err = msgpack.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := d.MarshalBinary()
	var raw []byte
	if err := msgpack.Unmarshal(b, &raw); err != nil || !bytes.Equal(raw, want) {
		t.Fatalf("plain msgpack decimal is no longer its MarshalBinary bytes: % x", b)
	}
	var dback decimal.Decimal
	if err := msgpack.Unmarshal(b, &dback); err != nil || dback.String() != "1.5" || dback.Exponent() != -2 {
		t.Fatalf("plain msgpack decimal decode: %v %v", dback, err)
	}
}

func TestAppendMarshalKeepsPrefix(t *testing.T) {
	c := newCodec(t, codec.Options{})
	dst := []byte("prefix")
	out, err := c.AppendMarshal(dst, "k", 42)
	if err != nil || !bytes.HasPrefix(out, []byte("prefix")) {
		t.Fatalf("AppendMarshal = %q, %v", out, err)
	}
	var n int
	if err := c.Unmarshal("k", out[len("prefix"):], &n); err != nil || n != 42 {
		t.Fatalf("Unmarshal = %d, %v", n, err)
	}
	out, err = c.AppendMarshal(dst, "k", make(chan int))
	if err == nil || !reflect.DeepEqual(out, dst) {
		t.Fatalf("AppendMarshal(chan) = %q, %v; want an error and dst unchanged", out, err)
	}
}

// bombs returns raw envelopes of payload compressed with zstd and with
// s2, as a writer that ignores the codec's bounds would store them.
func bombs(t *testing.T, payload []byte) [][]byte {
	t.Helper()
	e, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	z := append([]byte{codec.Version1<<4 | 0x08 | 1<<1}, e.EncodeAll(payload, nil)...)
	s := append([]byte{codec.Version1<<4 | 0x08 | 2<<1}, s2.Encode(nil, payload)...)
	return [][]byte{z, s}
}

// Decoding is bounded in proportion to what was read: a small value that
// declares or holds a huge one is refused before it costs memory.
func TestDecodingIsBoundedByTheStoredSize(t *testing.T) {
	c := newCodec(t, codec.Options{}) // 16 MiB cap: each bomb is under it
	for _, size := range []int{1 << 20, 8 << 20} {
		for _, b := range bombs(t, make([]byte, size)) {
			var v []byte
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			before := ms.TotalAlloc
			err := c.Unmarshal("k", b, &v)
			runtime.ReadMemStats(&ms)
			if !errors.Is(err, codec.ErrTooLarge) {
				t.Fatalf("%d zero bytes in %d (header %x): %v, want ErrTooLarge", size, len(b), b[0], err)
			}
			if got := ms.TotalAlloc - before; got > 1<<20 {
				t.Fatalf("refusing a %d-byte bomb allocated %d bytes", len(b), got)
			}
		}
	}
	// Millions of empty maps in a few kilobytes: refused by the count of
	// values, not decoded.
	maps := bytes.Repeat([]byte{0x80}, 4<<20)
	payload := append([]byte{0xdd, 0, 0x40, 0, 0}, maps...) // array32 of 4 Mi empty maps
	for _, b := range bombs(t, payload) {
		b[0] &^= 0x08 // msgpack, not raw
		var v any
		start := time.Now()
		if err := c.Unmarshal("k", b, &v); !errors.Is(err, codec.ErrTooLarge) {
			t.Fatalf("map bomb of %d bytes: %v, want ErrTooLarge", len(b), err)
		}
		t.Logf("map bomb of %d bytes refused in %v", len(b), time.Since(start))
	}
	// Within the expansion floor, the count of values still bounds the
	// work: 60,000 empty maps from a few dozen stored bytes.
	small := append([]byte{0xdc, 0xea, 0x60}, bytes.Repeat([]byte{0x80}, 60000)...) // array16 of 60000
	for _, b := range bombs(t, small) {
		b[0] &^= 0x08
		var v any
		if err := c.Unmarshal("k", b, &v); !errors.Is(err, codec.ErrTooLarge) || !strings.Contains(err.Error(), "values") {
			t.Fatalf("60,000 maps in %d bytes: %v, want ErrTooLarge for the count of values", len(b), err)
		}
	}
	// The same count stored uncompressed is in proportion to its size.
	var v any
	if err := c.Unmarshal("k", append([]byte{codec.Version1 << 4}, small...), &v); err != nil {
		t.Fatalf("60,000 maps stored as 60,004 bytes: %v", err)
	}
}
