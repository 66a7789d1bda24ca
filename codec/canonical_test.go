package codec_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache/codec"
)

// A time keeps its zone wherever it appears, inside any included: it was
// written as MessagePack's ext -1 there, which has no zone, and read back
// as Local.
func TestTimesKeepTheirZoneInsideAny(t *testing.T) {
	c := newCodec(t, codec.Options{})
	ny := mustLoc("America/New_York")
	at := time.Date(2026, 11, 26, 9, 30, 0, 1, ny)
	for _, v := range []any{
		map[string]any{"ts": at},
		[]any{at},
		map[string]any{"fills": []any{map[string]any{"ts": at}}},
	} {
		b, err := c.Marshal("k", v)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte{0xff}) && !bytes.Contains(b, []byte{0x02}) {
			t.Errorf("%v written with ext -1", v)
		}
		var got any
		if err := c.Unmarshal("k", b, &got); err != nil {
			t.Fatal(err)
		}
		tm := findTime(got)
		if tm.Location().String() != "America/New_York" || !tm.Equal(at) {
			t.Errorf("%T: read back %v (%s), want %v in America/New_York\n% x", v, tm, tm.Location(), at, b)
		}
	}
	// ext -1 written by another library is read as UTC, not Local.
	var got any
	must(t, c.Unmarshal("k", mustHex(t, "1091d6ff00000001"), &got))
	if tm := findTime(got); tm.Location() != time.UTC || tm.Unix() != 1 {
		t.Errorf("ext -1 inside any: %v (%s), want 1970-01-01T00:00:01Z in UTC", tm, tm.Location())
	}
}

func findTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x
	case []any:
		for _, e := range x {
			if t := findTime(e); !t.IsZero() {
				return t
			}
		}
	case map[string]any:
		for _, e := range x {
			if t := findTime(e); !t.IsZero() {
				return t
			}
		}
	}
	return time.Time{}
}

// Every map is written with its keys in order, so equal values make equal
// bytes: typed maps were written in Go's random iteration order.
func TestEqualMapsMakeEqualBytes(t *testing.T) {
	c := newCodec(t, codec.Options{CompressThreshold: -1})
	type book struct {
		Levels map[int]string    `json:"levels"`
		Sizes  map[string]int64  `json:"sizes"`
		Any    []any             `json:"any"`
		Nested map[string][]byte `json:"nested"`
	}
	inner := map[uint16]bool{}
	sizes, levels, nested := map[string]int64{}, map[int]string{}, map[string][]byte{}
	for i := range 40 {
		sizes[fmt.Sprint("sym-", i)] = int64(i)
		levels[i*7-100] = fmt.Sprint(i)
		nested[fmt.Sprint("n", i)] = []byte{byte(i)}
		inner[uint16(i*31)] = i%2 == 0
	}
	for _, v := range []any{sizes, levels, book{levels, sizes, []any{inner, map[int8]string{-1: "a", 1: "b", 0: "c"}}, nested}} {
		first, err := c.Marshal("k", v)
		must(t, err)
		for range 20 {
			b, err := c.Marshal("k", v)
			must(t, err)
			if !bytes.Equal(b, first) {
				t.Fatalf("%T: two encodings of one value differ", v)
			}
		}
	}
	// The order is the keys' order: by value for numbers, by bytes for
	// strings.
	b, err := c.Marshal("k", map[int]string{10: "x", -2: "y", 3: "z"})
	must(t, err)
	if got, want := hex.EncodeToString(b), "1083fea179"+"03a17a"+"0aa178"; got != want {
		t.Errorf("map[int]string{10,-2,3}: %s, want %s", got, want)
	}
}

// One cutoff: the scaled form for exponents 0 to -15 whenever the
// coefficient fits in 64 bits, and the fewest bytes always.
func TestDecimalFormsAndFewestBytes(t *testing.T) {
	c := newCodec(t, codec.Options{})
	d := decimal.RequireFromString
	for _, tc := range []struct {
		v    decimal.Decimal
		want string
	}{
		{d("1000000000000000000"), "10d7100de0b6b3a7640000"},                                                // 10^18: 19 digits, fits: scaled, 8 bytes
		{d("-9223372036854775808"), "10d7108000000000000000"},                                               // -2^63: scaled, 8 bytes
		{d("-92233720368547758.08"), "10d7128000000000000000"},                                              // -2^63 E-2
		{d("9223372036854775808"), "10c70a0100" + "008000000000000000"},                                     // 2^63: over 64 bits, general form
		{decimal.NewFromBigInt(bigPow2(127, true), 0), "10c71101" + "00" + "80" + strings.Repeat("00", 15)}, // -2^127: 16 bytes
		{decimal.NewFromBigInt(bigPow2(127, true), -2), "10c71101" + "03" + "80" + strings.Repeat("00", 15)},
		{decimal.NewFromBigInt(bigPow2(64, true), 0), "10c70a01" + "00" + "ff" + strings.Repeat("00", 8)}, // -2^64: 9 bytes
	} {
		b, err := c.Marshal("k", tc.v)
		must(t, err)
		if got := hex.EncodeToString(b); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.v, got, tc.want)
		}
		var back decimal.Decimal
		must(t, c.Unmarshal("k", b, &back))
		if back.Coefficient().Cmp(tc.v.Coefficient()) != 0 || back.Exponent() != tc.v.Exponent() {
			t.Errorf("%s read back as %s", tc.v, back)
		}
	}
}

// Reader limits exactly as the spec states them: a scaled decimal of 1 to
// 16 bytes, a general one of at most 4096, and 64 levels of nesting.
func TestReaderLimitsAreTheSpecs(t *testing.T) {
	c := newCodec(t, codec.Options{})
	scaled := func(n int) []byte { // ext 8/16/32 header, type 18 (E-2), n bytes of coefficient
		b := []byte{0x10, 0xc7, byte(n), 18, 0x01}
		return append(b, make([]byte, n-1)...)
	}
	var d decimal.Decimal
	if err := c.Unmarshal("k", scaled(16), &d); err != nil {
		t.Errorf("a 16-byte scaled decimal refused: %v", err)
	}
	if err := c.Unmarshal("k", scaled(17), &d); !errors.Is(err, codec.ErrCorrupt) {
		t.Errorf("a 17-byte scaled decimal: %v, want corrupt", err)
	}
	nest := func(levels int) []byte {
		return append(append([]byte{0x10}, bytes.Repeat([]byte{0x91}, levels)...), 0xc0)
	}
	var v any
	if err := c.Unmarshal("k", nest(codec.MaxDepth), &v); err != nil {
		t.Errorf("%d nested arrays refused: %v", codec.MaxDepth, err)
	}
	if err := c.Unmarshal("k", nest(codec.MaxDepth+1), &v); !errors.Is(err, codec.ErrCorrupt) {
		t.Errorf("%d nested arrays: %v, want corrupt", codec.MaxDepth+1, err)
	}
}

func bigPow2(n uint, neg bool) *big.Int {
	x := new(big.Int).Lsh(big.NewInt(1), n)
	if neg {
		x.Neg(x)
	}
	return x
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	must(t, err)
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
