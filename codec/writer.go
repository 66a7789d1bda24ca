package codec

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/shopspring/decimal"
)

// Writer appends a payload in the canonical form, the exact bytes the
// reflective encoder writes for the same value: MessagePack with the
// smallest integer and length headers, and the decimal and time
// extensions. It is what a type's MarshalCanonical method writes to (see
// CanonicalMarshaler); cmd/tradecache-gen writes such methods.
type Writer struct {
	b   []byte
	bad bool // an extension past maxExtLen: the reflective encoder reports it
}

// MapHeader starts a map of n entries. A struct is a map of its fields.
func (w *Writer) MapHeader(n int) { w.header(n, 0x80, 0xde, 0xdf) }

// ArrayHeader starts an array of n elements; a nil slice is Nil instead.
func (w *Writer) ArrayHeader(n int) { w.header(n, 0x90, 0xdc, 0xdd) }

// header writes a map's or an array's length: in the fix code's low bits
// under 16, else after the 16- or 32-bit code.
func (w *Writer) header(n int, fix, c16, c32 byte) {
	switch {
	case n < 16:
		w.b = append(w.b, fix|byte(n))
	case n <= math.MaxUint16:
		w.b = append(w.b, c16, byte(n>>8), byte(n))
	default:
		w.b = append(w.b, c32)
		w.b = binary.BigEndian.AppendUint32(w.b, uint32(n))
	}
}

// Raw appends bytes already in the canonical form: a field name with its
// header, which generated code spells once as a constant.
func (w *Writer) Raw(b string) { w.b = append(w.b, b...) }

// Nil writes nil.
func (w *Writer) Nil() { w.b = append(w.b, 0xc0) }

// Bool writes b.
func (w *Writer) Bool(b bool) {
	if b {
		w.b = append(w.b, 0xc3)
	} else {
		w.b = append(w.b, 0xc2)
	}
}

// String writes s.
func (w *Writer) String(s string) {
	if n := len(s); n < 32 {
		w.b = append(w.b, 0xa0|byte(n))
	} else {
		w.length(n, 0xd9, 0xda, 0xdb)
	}
	w.b = append(w.b, s...)
}

// Bytes writes b as binary data, and a nil b as nil.
func (w *Writer) Bytes(b []byte) {
	if b == nil {
		w.Nil()
		return
	}
	w.length(len(b), 0xc4, 0xc5, 0xc6)
	w.b = append(w.b, b...)
}

// length writes a string's or binary's length after its 8-, 16- or
// 32-bit code, the smallest that holds n.
func (w *Writer) length(n int, c8, c16, c32 byte) {
	switch {
	case n <= math.MaxUint8:
		w.b = append(w.b, c8, byte(n))
	case n <= math.MaxUint16:
		w.b = append(w.b, c16, byte(n>>8), byte(n))
	default:
		w.b = append(w.b, c32)
		w.b = binary.BigEndian.AppendUint32(w.b, uint32(n))
	}
}

// Uint writes v in the fewest bytes.
func (w *Writer) Uint(v uint64) {
	switch {
	case v <= math.MaxInt8:
		w.b = append(w.b, byte(v))
	case v <= math.MaxUint8:
		w.b = append(w.b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		w.b = append(w.b, 0xcd, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		w.b = append(w.b, 0xce)
		w.b = binary.BigEndian.AppendUint32(w.b, uint32(v))
	default:
		w.b = append(w.b, 0xcf)
		w.b = binary.BigEndian.AppendUint64(w.b, v)
	}
}

// Int writes v in the fewest bytes.
func (w *Writer) Int(v int64) {
	switch {
	case v >= 0:
		w.Uint(uint64(v))
	case v >= -32:
		w.b = append(w.b, byte(v))
	case v >= math.MinInt8:
		w.b = append(w.b, 0xd0, byte(v))
	case v >= math.MinInt16:
		w.b = append(w.b, 0xd1, byte(v>>8), byte(v))
	case v >= math.MinInt32:
		w.b = append(w.b, 0xd2)
		w.b = binary.BigEndian.AppendUint32(w.b, uint32(v))
	default:
		w.b = append(w.b, 0xd3)
		w.b = binary.BigEndian.AppendUint64(w.b, uint64(v))
	}
}

// Float64 writes v as a 64-bit float.
func (w *Writer) Float64(v float64) {
	w.b = append(w.b, 0xcb)
	w.b = binary.BigEndian.AppendUint64(w.b, math.Float64bits(v))
}

// Float32 writes v as a 32-bit float.
func (w *Writer) Float32(v float32) {
	w.b = append(w.b, 0xca)
	w.b = binary.BigEndian.AppendUint32(w.b, math.Float32bits(v))
}

// Decimal writes d as the decimal extension, scaled when its exponent is
// 0 to -15 and its coefficient fits 64 bits.
func (w *Writer) Decimal(d decimal.Decimal) {
	var tmp [32]byte
	if id, coef, ok := scaledDecimal(d); ok {
		w.ext(id, appendFixedInt(tmp[:0], coef))
		return
	}
	w.ext(ExtDecimal, appendDecimalExt(tmp[:0], d))
}

// Time writes t as the time extension, with its zone.
func (w *Writer) Time(t time.Time) {
	var tmp [64]byte
	w.ext(ExtTime, appendTimeExt(tmp[:0], t))
}

// ext writes an extension with MessagePack's smallest header for its
// length.
func (w *Writer) ext(id int8, p []byte) {
	n := len(p)
	switch {
	case n > maxExtLen:
		w.bad = true
		return
	case n == 1:
		w.b = append(w.b, 0xd4)
	case n == 2:
		w.b = append(w.b, 0xd5)
	case n == 4:
		w.b = append(w.b, 0xd6)
	case n == 8:
		w.b = append(w.b, 0xd7)
	case n == 16:
		w.b = append(w.b, 0xd8)
	case n <= math.MaxUint8:
		w.b = append(w.b, 0xc7, byte(n))
	default:
		w.b = append(w.b, 0xc8, byte(n>>8), byte(n))
	}
	w.b = append(w.b, byte(id))
	w.b = append(w.b, p...)
}
