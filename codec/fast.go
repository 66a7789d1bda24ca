package codec

import (
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"
)

// payloadReader is the reader the msgpack decoder reads envelopes from.
// Besides the io.ByteScanner msgpack needs, it hands out sub-slices of the
// payload (next), so the extension decoders read decimals and times without
// copying or allocating.
type payloadReader struct {
	b []byte
	i int
}

func (r *payloadReader) reset(b []byte) { r.b, r.i = b, 0 }

func (r *payloadReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

func (r *payloadReader) ReadByte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	c := r.b[r.i]
	r.i++
	return c, nil
}

func (r *payloadReader) UnreadByte() error {
	if r.i == 0 {
		return errors.New("codec: UnreadByte at the start of the payload")
	}
	r.i--
	return nil
}

// next returns the next n bytes of the payload without copying.
func (r *payloadReader) next(n int) ([]byte, bool) {
	if n < 0 || len(r.b)-r.i < n {
		return nil, false
	}
	s := r.b[r.i : r.i+n : r.i+n]
	r.i += n
	return s, true
}

// appendDecimal appends DecimalString(d) to dst. For coefficients of up to
// 18 digits, the common case for prices and sizes, it formats without
// allocating.
func appendDecimal(dst []byte, d decimal.Decimal) []byte {
	exp := d.Exponent()
	if exp > 0 || exp < -100 || d.NumDigits() > 18 {
		return append(dst, DecimalString(d)...)
	}
	c := d.CoefficientInt64()
	u := uint64(c)
	if c < 0 {
		dst = append(dst, '-')
		u = uint64(-c)
	}
	var tmp [20]byte
	digits := strconv.AppendUint(tmp[:0], u, 10)
	scale := int(-exp)
	switch {
	case scale == 0:
		return append(dst, digits...)
	case len(digits) > scale:
		dst = append(dst, digits[:len(digits)-scale]...)
		dst = append(dst, '.')
		return append(dst, digits[len(digits)-scale:]...)
	default:
		dst = append(dst, '0', '.')
		for range scale - len(digits) {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
}

// parseDecimal parses the decimal extension's payload. Plain forms with up
// to 18 digits ("150.00", "-0.0001") take a fast path with one allocation
// (shopspring's big.Int); anything else goes to decimal.NewFromString.
func parseDecimal(b []byte) (decimal.Decimal, error) {
	var (
		coef   uint64
		digits int
		scale  int32
		dot    bool
		neg    bool
		i      int
	)
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i = 1
	}
	fast := i < len(b)
	for ; i < len(b) && fast; i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 18 {
				fast = false
				break
			}
			coef = coef*10 + uint64(c-'0')
			if coef != 0 || dot {
				digits++
			}
			if dot {
				scale++
			}
		case c == '.' && !dot && i+1 < len(b):
			dot = true
		default:
			fast = false
		}
	}
	if !fast {
		return decimal.NewFromString(string(b))
	}
	v := int64(coef)
	if neg {
		v = -v
	}
	return decimal.New(v, -scale), nil
}

// zoneCache maps IANA zone names to locations without allocating on a hit:
// indexing a map with string(bytes) does not copy. It is copied on write,
// which happens once per zone name, and holds at most maxZones names so
// that crafted input cannot grow it.
var (
	zoneCache   atomic.Pointer[map[string]*time.Location]
	zoneCacheMu sync.Mutex
)

const maxZones = 512

func zoneByName(name []byte) *time.Location {
	if m := zoneCache.Load(); m != nil {
		if loc, ok := (*m)[string(name)]; ok {
			return loc
		}
	}
	s := string(name)
	loc, err := time.LoadLocation(s)
	if err != nil {
		loc = nil
	}
	zoneCacheMu.Lock()
	defer zoneCacheMu.Unlock()
	old := zoneCache.Load()
	n := 0
	if old != nil {
		n = len(*old)
	}
	if n >= maxZones {
		return loc
	}
	m := make(map[string]*time.Location, n+1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[s] = loc
	zoneCache.Store(&m)
	return loc
}
