// Package codectest holds a type's canonical methods (the ones
// cmd/tradecache-gen writes) to the reflective codec they stand in for.
// Generated tests call Canonical; a fuzz target calls Decode with the
// fuzzer's bytes.
package codectest

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/tradecache/tradecache/codec"
)

var (
	fast, _       = codec.New(codec.Options{CompressThreshold: -1})
	reflective, _ = codec.New(codec.Options{CompressThreshold: -1, Reflective: true})
)

// Canonical checks T's canonical methods on n random values: each encodes
// to the reflective encoder's bytes, and those bytes, and mutations of
// them (a byte changed, cut short, grown), decode to what the reflective
// decoder gives: the same value (compared on the wire) or the same error.
func Canonical[T any](t *testing.T, n int) {
	t.Helper()
	var zero T
	if _, ok := any(zero).(codec.CanonicalMarshaler); !ok {
		t.Fatalf("%T has no MarshalCanonical method", zero)
	}
	if _, ok := any(&zero).(codec.CanonicalUnmarshaler); !ok {
		t.Fatalf("*%T has no UnmarshalCanonical method", zero)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		var v T
		fill(rng, reflect.ValueOf(&v).Elem(), 0)
		want, werr := reflective.Marshal("", v)
		got, gerr := fast.Marshal("", v)
		if fmt.Sprint(werr) != fmt.Sprint(gerr) || !bytes.Equal(want, got) {
			t.Fatalf("value %d, %#v:\nreflective % x (%v)\ncanonical  % x (%v)", i, v, want, werr, got, gerr)
		}
		if werr != nil {
			continue
		}
		if !Decode[T](t, want) {
			t.Fatalf("value %d, %#v: its own bytes are off the canonical path:\n% x", i, v, want)
		}
		for range 8 {
			Decode[T](t, mutate(rng, want))
		}
	}
}

// Decode decodes data into a T with its canonical method and with
// reflection, fails t if they differ, and reports whether the canonical
// method read it.
func Decode[T any](t testing.TB, data []byte) bool {
	t.Helper()
	var a, b, r T
	canonical := false
	if u, ok := any(&r).(codec.CanonicalUnmarshaler); ok {
		canonical = codec.ReadCanonical(data, u)
	}
	errA := fast.Unmarshal("", data, &a)
	errB := reflective.Unmarshal("", data, &b)
	if fmt.Sprint(errA) != fmt.Sprint(errB) {
		t.Fatalf("% x: canonical error %v, reflective %v", data, errA, errB)
	}
	if errA == nil {
		wa, errA := reflective.Marshal("", a)
		wb, errB := reflective.Marshal("", b)
		if fmt.Sprint(errA) != fmt.Sprint(errB) || !bytes.Equal(wa, wb) {
			t.Fatalf("% x decodes to different values:\ncanonical  %#v\nreflective %#v", data, a, b)
		}
	}
	return canonical
}

func mutate(rng *rand.Rand, b []byte) []byte {
	m := append([]byte(nil), b...)
	switch rng.IntN(4) {
	case 0:
		if len(m) > 1 {
			m[1+rng.IntN(len(m)-1)] ^= byte(1 + rng.IntN(255))
		}
	case 1:
		m = m[:1+rng.IntN(len(m))]
	case 2:
		i := 1 + rng.IntN(len(m))
		m = append(m[:i], append([]byte{byte(rng.IntN(256))}, m[i:]...)...)
	case 3:
		if len(m) > 1 {
			m[1+rng.IntN(len(m)-1)] = []byte{0xc0, 0xcc, 0xcf, 0xd3, 0xde, 0xdc, 0xd9, 0xc7}[rng.IntN(8)]
		}
	}
	return m
}

var zones = func() []*time.Location {
	locs := []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("XYZ", -5*3600)}
	for _, z := range []string{"America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Lord_Howe"} {
		if l, err := time.LoadLocation(z); err == nil {
			locs = append(locs, l)
		}
	}
	return locs
}()

var (
	decimalType = reflect.TypeOf(decimal.Decimal{})
	timeType    = reflect.TypeOf(time.Time{})
)

// fill sets v to a random value that reaches each form's edges: long
// strings, integers at their widths' limits, decimals of every scale and
// past 64 bits, times before 1970 and past 2106 in several zones.
func fill(rng *rand.Rand, v reflect.Value, depth int) {
	switch {
	case v.Type() == decimalType:
		exp := int32(rng.IntN(24) - 18)
		var d decimal.Decimal
		switch rng.IntN(5) {
		case 0:
			d = decimal.New(0, exp)
		case 1:
			x := new(big.Int).Lsh(big.NewInt(rng.Int64()), uint(rng.IntN(80)))
			if rng.IntN(2) == 0 {
				x.Neg(x)
			}
			d = decimal.NewFromBigInt(x, exp)
		default:
			d = decimal.New(rng.Int64N(1<<uint(1+rng.IntN(62)))-rng.Int64N(1000), exp)
		}
		v.Set(reflect.ValueOf(d))
		return
	case v.Type() == timeType:
		secs := rng.Int64N(1<<35) - 1<<33
		if rng.IntN(4) == 0 {
			secs = 1_700_000_000 + rng.Int64N(1e8)
		}
		t := time.Unix(secs, rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
		v.Set(reflect.ValueOf(t))
		return
	}
	switch v.Kind() {
	case reflect.String:
		n := []int{0, 1, 4, 31, 32, 200, 300}[rng.IntN(7)]
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('A' + rng.IntN(26))
		}
		v.SetString(string(b))
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := v.Type().Bits()
		x := rng.Int64() >> uint(64-bits) >> uint(rng.IntN(bits))
		if rng.IntN(2) == 0 {
			x = -x - 1
		}
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := v.Type().Bits()
		v.SetUint(rng.Uint64() >> uint(64-bits) >> uint(rng.IntN(bits)))
	case reflect.Float64, reflect.Float32:
		f := []float64{0, -1.5, math.MaxFloat32, math.Inf(1), rng.NormFloat64() * 1e6}[rng.IntN(5)]
		v.SetFloat(f)
	case reflect.Slice:
		if rng.IntN(5) == 0 || depth > 3 {
			return // nil
		}
		n := []int{0, 1, 3, 17}[rng.IntN(4)]
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(rng, s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(rng, v.Field(i), depth+1)
			}
		}
	}
}
