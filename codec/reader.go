package codec

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"
)

// Reader reads a payload in the canonical form, the bytes Writer writes.
// It is what a type's UnmarshalCanonical method reads from (see
// CanonicalUnmarshaler); cmd/tradecache-gen writes such methods.
//
// A Reader never fails loudly. Anything off the canonical path (a field
// out of order, an integer in a wider form than needed, a nil, a
// truncated value) marks it off, and every later read returns a zero
// value; the method then reports false and the codec decodes the payload
// again with reflection, so that odd input gets exactly the value or the
// error it always did. The Reader's own work is bounded by the input: it
// reads each byte once, and an array header larger than the bytes left
// to hold its elements is off the path before anything is allocated.
type Reader struct {
	b     []byte
	i     int
	off   bool
	depth int
	// boxes is the slab the next decimals take their big.Int from, and
	// want how many decimals the value still expects (ReserveDecimals):
	// one allocation holds all of a value's decimals.
	boxes []intBox
	want  int
}

// maxDepth bounds how deep Enter may nest: a recursive type in a crafted
// payload must not recurse as deep as its bytes allow.
const maxDepth = 32

// Ok reports whether everything read so far was on the canonical path.
func (r *Reader) Ok() bool { return !r.off }

// Finish reports whether the value ended on the canonical path: at the
// top level, at the end of the payload (trailing bytes are the reflective
// decoder's to refuse).
func (r *Reader) Finish() bool { return !r.off && (r.depth > 0 || r.i == len(r.b)) }

// Enter and Leave bracket a call to another type's UnmarshalCanonical, so
// that its Finish does not expect the payload's end, and so that nesting
// is bounded. Enter reports false (and marks the Reader off) past
// maxDepth.
func (r *Reader) Enter() bool {
	if r.depth++; r.depth > maxDepth {
		r.off = true
	}
	return !r.off
}

// Leave ends what Enter began.
func (r *Reader) Leave() { r.depth-- }

// Fail marks the Reader off the canonical path.
func (r *Reader) Fail() { r.off = true }

// Remaining is how many payload bytes are left.
func (r *Reader) Remaining() int { return len(r.b) - r.i }

// ReserveDecimals says n more decimals are coming: the first one with a
// coefficient other than 0 allocates room for all of them at once.
func (r *Reader) ReserveDecimals(n int) { r.want += n }

// next returns the next n bytes, or marks the Reader off.
func (r *Reader) next(n int) []byte {
	if r.off || n < 0 || len(r.b)-r.i < n {
		r.off = true
		return nil
	}
	s := r.b[r.i : r.i+n : r.i+n]
	r.i += n
	return s
}

func (r *Reader) byte1() byte {
	if r.off || r.i >= len(r.b) {
		r.off = true
		return 0
	}
	c := r.b[r.i]
	r.i++
	return c
}

// Expect consumes raw, bytes the canonical form must hold next (a field
// name with its header), or marks the Reader off.
func (r *Reader) Expect(raw string) bool {
	if r.off || len(r.b)-r.i < len(raw) || string(r.b[r.i:r.i+len(raw)]) != raw {
		r.off = true
		return false
	}
	r.i += len(raw)
	return true
}

// MapHeader reads a map header and returns its length, -1 if off the path.
func (r *Reader) MapHeader() int {
	c := r.byte1()
	switch {
	case r.off:
	case c&0xf0 == 0x80:
		return int(c & 0x0f)
	case c == 0xde:
		if b := r.next(2); b != nil {
			return int(binary.BigEndian.Uint16(b))
		}
	case c == 0xdf:
		if b := r.next(4); b != nil {
			return int(binary.BigEndian.Uint32(b))
		}
	default:
		r.off = true
	}
	return -1
}

// ArrayHeader reads an array header and returns its length, or -1 for
// nil (a nil slice). minSize is the fewest bytes one element can take: a
// length the bytes left cannot hold is off the path, before the caller
// allocates for it.
func (r *Reader) ArrayHeader(minSize int) int {
	c := r.byte1()
	n := -1
	switch {
	case r.off:
		return -1
	case c == 0xc0:
		return -1
	case c&0xf0 == 0x90:
		n = int(c & 0x0f)
	case c == 0xdc:
		if b := r.next(2); b != nil {
			n = int(binary.BigEndian.Uint16(b))
		}
	case c == 0xdd:
		if b := r.next(4); b != nil {
			n = int(binary.BigEndian.Uint32(b))
		}
	default:
		r.off = true
	}
	if n > r.Remaining()/max(minSize, 1) {
		r.off = true
	}
	if r.off {
		return -1
	}
	return n
}

// str returns the bytes of the next string, without copying.
func (r *Reader) str() []byte {
	c := r.byte1()
	n := 0
	switch {
	case r.off:
		return nil
	case c&0xe0 == 0xa0:
		n = int(c & 0x1f)
	case c == 0xd9:
		n = int(r.byte1())
	case c == 0xda:
		if b := r.next(2); b != nil {
			n = int(binary.BigEndian.Uint16(b))
		}
	case c == 0xdb:
		if b := r.next(4); b != nil {
			n = int(binary.BigEndian.Uint32(b))
		}
	default:
		r.off = true
	}
	return r.next(n)
}

// String reads a string.
func (r *Reader) String() string {
	b := r.str()
	if b == nil {
		return ""
	}
	return string(b)
}

// Symbol reads a string that recurs across values (a ticker, an
// interval): it is interned, so that reading a known one allocates
// nothing.
func (r *Reader) Symbol() string { return intern(r.str()) }

// Bytes reads binary data into a new slice; nil reads as nil.
func (r *Reader) Bytes() []byte {
	c := r.byte1()
	n := 0
	switch {
	case r.off:
		return nil
	case c == 0xc0:
		return nil
	case c == 0xc4:
		n = int(r.byte1())
	case c == 0xc5:
		if b := r.next(2); b != nil {
			n = int(binary.BigEndian.Uint16(b))
		}
	case c == 0xc6:
		if b := r.next(4); b != nil {
			n = int(binary.BigEndian.Uint32(b))
		}
	default:
		r.off = true
	}
	b := r.next(n)
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, n), b...)
}

// Bool reads a bool.
func (r *Reader) Bool() bool {
	switch r.byte1() {
	case 0xc3:
		return true
	case 0xc2:
	default:
		r.off = true
	}
	return false
}

// Uint reads an unsigned integer in any of its unsigned forms.
func (r *Reader) Uint() uint64 {
	c := r.byte1()
	switch {
	case r.off:
	case c <= 0x7f:
		return uint64(c)
	case c == 0xcc:
		return uint64(r.byte1())
	case c == 0xcd:
		if b := r.next(2); b != nil {
			return uint64(binary.BigEndian.Uint16(b))
		}
	case c == 0xce:
		if b := r.next(4); b != nil {
			return uint64(binary.BigEndian.Uint32(b))
		}
	case c == 0xcf:
		if b := r.next(8); b != nil {
			return binary.BigEndian.Uint64(b)
		}
	default:
		r.off = true
	}
	return 0
}

// Int reads a signed integer: a non-negative one in its unsigned forms, a
// negative one in its signed forms.
func (r *Reader) Int() int64 {
	if r.off || r.i >= len(r.b) {
		r.off = true
		return 0
	}
	c := r.b[r.i]
	switch {
	case c <= 0x7f || c >= 0xcc && c <= 0xcf:
		u := r.Uint()
		if u > math.MaxInt64 {
			r.off = true
			return 0
		}
		return int64(u)
	case c >= 0xe0:
		r.i++
		return int64(int8(c))
	}
	r.i++
	switch c {
	case 0xd0:
		return int64(int8(r.byte1()))
	case 0xd1:
		if b := r.next(2); b != nil {
			return int64(int16(binary.BigEndian.Uint16(b)))
		}
	case 0xd2:
		if b := r.next(4); b != nil {
			return int64(int32(binary.BigEndian.Uint32(b)))
		}
	case 0xd3:
		if b := r.next(8); b != nil {
			return int64(binary.BigEndian.Uint64(b))
		}
	default:
		r.off = true
	}
	return 0
}

// Float64 reads a 64-bit float.
func (r *Reader) Float64() float64 {
	if r.byte1() != 0xcb {
		r.off = true
		return 0
	}
	if b := r.next(8); b != nil {
		return math.Float64frombits(binary.BigEndian.Uint64(b))
	}
	return 0
}

// Float32 reads a 32-bit float.
func (r *Reader) Float32() float32 {
	if r.byte1() != 0xca {
		r.off = true
		return 0
	}
	if b := r.next(4); b != nil {
		return math.Float32frombits(binary.BigEndian.Uint32(b))
	}
	return 0
}

// ext reads an extension's header and returns its id and payload.
func (r *Reader) ext() (int8, []byte) {
	c := r.byte1()
	n := 0
	switch {
	case r.off:
		return 0, nil
	case c >= 0xd4 && c <= 0xd8:
		n = 1 << (c - 0xd4)
	case c == 0xc7:
		n = int(r.byte1())
	case c == 0xc8:
		if b := r.next(2); b != nil {
			n = int(binary.BigEndian.Uint16(b))
		}
	default:
		r.off = true
		return 0, nil
	}
	id := int8(r.byte1())
	if n > maxExtLen {
		r.off = true
	}
	return id, r.next(n)
}

// Decimal reads a decimal extension, scaled or general.
func (r *Reader) Decimal() decimal.Decimal {
	id, p := r.ext()
	if r.off {
		return decimal.Decimal{}
	}
	exp := int64(0)
	switch {
	case id >= ExtScaledDecimalMin && id <= ExtScaledDecimalMax:
		exp = -int64(id - ExtScaledDecimalMin)
	case id == ExtDecimal:
		u, n := binary.Uvarint(p)
		if n <= 0 {
			r.off = true
			return decimal.Decimal{}
		}
		if exp = unzigzag(u); exp < math.MinInt32 || exp > math.MaxInt32 {
			r.off = true
			return decimal.Decimal{}
		}
		p = p[n:]
	default:
		r.off = true
		return decimal.Decimal{}
	}
	if len(p) == 0 || len(p) > 8 || !decimalLayoutOK {
		// Empty (an error), or a coefficient past 64 bits: the general
		// parser, which reports the one and builds the other.
		var d decimal.Decimal
		var err error
		if id == ExtDecimal {
			d, err = parseCoefficient(p, int32(exp))
		} else {
			d, err = parseScaledDecimal(id, p)
		}
		if err != nil {
			r.off = true
		}
		return d
	}
	v := int64(int8(p[0])) // sign-extend the first byte
	for _, c := range p[1:] {
		v = v<<8 | int64(c)
	}
	if v == 0 {
		return newDecimal(0, int32(exp))
	}
	if len(r.boxes) == 0 {
		r.boxes = make([]intBox, max(r.want, 1))
		r.want = 0
	}
	box := &r.boxes[0]
	r.boxes = r.boxes[1:]
	return decimalIn(box, v, int32(exp))
}

// Time reads a time extension, with its zone.
func (r *Reader) Time() time.Time {
	id, p := r.ext()
	if r.off || id != ExtTime {
		r.off = true
		return time.Time{}
	}
	t, err := parseTimeExt(p)
	if err != nil {
		r.off = true
	}
	return t
}

// internSlots is the size of the interning table: a direct-mapped cache,
// so that a hostile stream of distinct strings costs an allocation each,
// as without interning, and never grows it.
const internSlots = 4096

// maxInterned is the longest string interned; longer ones are not
// symbols.
const maxInterned = 64

var (
	internSeed  = maphash.MakeSeed()
	internTable [internSlots]atomic.Pointer[string]
)

func intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > maxInterned {
		return string(b)
	}
	// Two-way: a string may sit in either slot of its pair, so that two
	// symbols hashing to one slot do not evict each other on every read.
	i := maphash.Bytes(internSeed, b) & (internSlots - 1)
	a, o := &internTable[i], &internTable[i^1]
	if p := a.Load(); p != nil && *p == string(b) {
		return *p
	}
	if p := o.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	if a.Load() != nil && o.Load() == nil {
		a = o
	}
	a.Store(&s)
	return s
}
