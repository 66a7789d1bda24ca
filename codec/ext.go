package codec

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Extension type ids used inside the envelope.
const (
	ExtDecimal int8 = 1
	ExtTime    int8 = 2
	extMsgTime int8 = -1 // MessagePack's standard timestamp
)

func init() {
	// Decoders keyed by ext id serve decoding into interface{} values.
	msgpack.RegisterExtDecoder(ExtDecimal, decimal.Decimal{}, func(d *msgpack.Decoder, v reflect.Value, n int) error {
		dec, err := readDecimalExt(d, n)
		if err != nil {
			return err
		}
		setDecimal(v, dec)
		return nil
	})
	msgpack.RegisterExtDecoder(ExtTime, time.Time{}, func(d *msgpack.Decoder, v reflect.Value, n int) error {
		t, err := readTimeExt(d, n)
		if err != nil {
			return err
		}
		setTime(v, t)
		return nil
	})
	// Type-level encoders and decoders override the ones the calls above
	// installed, so that typed fields accept every form (see package doc).
	msgpack.Register(decimal.Decimal{}, encodeDecimal, decodeDecimal)
	msgpack.Register(time.Time{}, encodeTime, decodeTime)
}

func inEnvelope(e *msgpack.Encoder) bool {
	_, ok := e.Writer().(*envBuf)
	return ok
}

// maxDecimalLen bounds the decimal extension's payload, on both sides.
const maxDecimalLen = 4096

// DecimalString formats d with its scale kept: "150.00" for 15000E-2,
// "0.00000000" for 0E-8, and "<coefficient>E<exponent>" ("15E3",
// "1E-300") for a positive exponent or one below -100, where the plain form
// would be mostly zeros. It is the payload of the decimal extension.
func DecimalString(d decimal.Decimal) string {
	exp := d.Exponent()
	if exp <= 0 && exp >= -100 {
		return d.StringFixed(-exp)
	}
	return d.Coefficient().String() + "E" + strconv.Itoa(int(exp))
}

// decimalOf and timeOf read a reflect.Value without boxing it into an
// interface, which would allocate for these 16- and 24-byte structs.
func decimalOf(v reflect.Value) decimal.Decimal {
	if v.CanAddr() {
		return *v.Addr().Interface().(*decimal.Decimal)
	}
	var d decimal.Decimal
	reflect.ValueOf(&d).Elem().Set(v)
	return d
}

func timeOf(v reflect.Value) time.Time {
	if v.CanAddr() {
		return *v.Addr().Interface().(*time.Time)
	}
	var t time.Time
	reflect.ValueOf(&t).Elem().Set(v)
	return t
}

func setDecimal(v reflect.Value, d decimal.Decimal) {
	if v.CanAddr() {
		*v.Addr().Interface().(*decimal.Decimal) = d
		return
	}
	v.Set(reflect.ValueOf(d))
}

func setTime(v reflect.Value, t time.Time) {
	if v.CanAddr() {
		*v.Addr().Interface().(*time.Time) = t
		return
	}
	v.Set(reflect.ValueOf(t))
}

func encodeDecimal(e *msgpack.Encoder, v reflect.Value) error {
	d := decimalOf(v)
	w, ok := e.Writer().(*envBuf)
	if !ok {
		b, err := d.MarshalBinary()
		if err != nil {
			return err
		}
		return e.EncodeBytes(b)
	}
	var tmp [64]byte
	s := appendDecimal(tmp[:0], d)
	if len(s) > maxDecimalLen {
		return fmt.Errorf("decimal of %d characters exceeds the %d the envelope allows", len(s), maxDecimalLen)
	}
	if err := e.EncodeExtHeader(ExtDecimal, len(s)); err != nil {
		return err
	}
	w.b = append(w.b, s...)
	return nil
}

// extBytes returns the next n bytes of an extension's payload: a view of
// the envelope when decoding one, a copy otherwise.
func extBytes(d *msgpack.Decoder, n int) ([]byte, error) {
	if pr, ok := d.Buffered().(*payloadReader); ok {
		if b, ok := pr.next(n); ok {
			return b, nil
		}
		return nil, io.ErrUnexpectedEOF
	}
	b := make([]byte, n)
	return b, d.ReadFull(b)
}

func readDecimalExt(d *msgpack.Decoder, n int) (decimal.Decimal, error) {
	if n <= 0 || n > maxDecimalLen {
		return decimal.Decimal{}, fmt.Errorf("decimal extension of %d bytes", n)
	}
	b, err := extBytes(d, n)
	if err != nil {
		return decimal.Decimal{}, err
	}
	dec, err := parseDecimal(b)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("decimal extension %q: %w", b, err)
	}
	return dec, nil
}

func decodeDecimal(d *msgpack.Decoder, v reflect.Value) error {
	c, err := d.PeekCode()
	if err != nil {
		return err
	}
	var dec decimal.Decimal
	switch {
	case c == msgpcode.Nil:
		_ = d.Skip()
	case msgpcode.IsExt(c):
		id, n, err := d.DecodeExtHeader()
		if err != nil {
			return err
		}
		if id != ExtDecimal {
			return fmt.Errorf("ext type %d where a decimal (ext %d) was expected", id, ExtDecimal)
		}
		if dec, err = readDecimalExt(d, n); err != nil {
			return err
		}
	case msgpcode.IsBin(c):
		b, err := d.DecodeBytes()
		if err != nil {
			return err
		}
		if err := dec.UnmarshalBinary(b); err != nil {
			return err
		}
	case msgpcode.IsString(c):
		s, err := d.DecodeString()
		if err != nil {
			return err
		}
		if dec, err = decimal.NewFromString(s); err != nil {
			return err
		}
	case msgpcode.IsFixedNum(c) || c == msgpcode.Int8 || c == msgpcode.Int16 || c == msgpcode.Int32 || c == msgpcode.Int64:
		n, err := d.DecodeInt64()
		if err != nil {
			return err
		}
		dec = decimal.NewFromInt(n)
	case c == msgpcode.Uint8 || c == msgpcode.Uint16 || c == msgpcode.Uint32 || c == msgpcode.Uint64:
		n, err := d.DecodeUint64()
		if err != nil {
			return err
		}
		dec = decimal.NewFromUint64(n)
	default:
		f, err := d.DecodeFloat64() // a float, as a last resort: inexact
		if err != nil {
			return err
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("cannot make a decimal from %v", f)
		}
		dec = decimal.NewFromFloat(f)
	}
	setDecimal(v, dec)
	return nil
}

const timeFixedLen = 8 + 4 + 4

func encodeTime(e *msgpack.Encoder, v reflect.Value) error {
	t := timeOf(v)
	if !inEnvelope(e) {
		return e.EncodeTime(t)
	}
	name, offset := zoneOf(t)
	if err := e.EncodeExtHeader(ExtTime, timeFixedLen+len(name)); err != nil {
		return err
	}
	w := e.Writer().(*envBuf)
	w.b = binary.BigEndian.AppendUint64(w.b, uint64(t.Unix()))
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(t.Nanosecond()))
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(int32(offset)))
	w.b = append(w.b, name...)
	return nil
}

// zoneOf returns the IANA name worth sending for t's location ("" for
// Local, whose meaning differs between processes, and for fixed zones) and
// t's offset east of UTC.
func zoneOf(t time.Time) (string, int) {
	_, offset := t.Zone()
	loc := t.Location()
	if loc == time.Local {
		return "", offset
	}
	name := loc.String()
	if name == "UTC" && offset != 0 {
		name = ""
	}
	return name, offset
}

func readTimeExt(d *msgpack.Decoder, n int) (time.Time, error) {
	if n < timeFixedLen || n > timeFixedLen+128 {
		return time.Time{}, fmt.Errorf("time extension of %d bytes", n)
	}
	b, err := extBytes(d, n)
	if err != nil {
		return time.Time{}, err
	}
	secs := int64(binary.BigEndian.Uint64(b))
	nsec := binary.BigEndian.Uint32(b[8:])
	offset := int(int32(binary.BigEndian.Uint32(b[12:])))
	name := b[16:]
	if nsec >= 1e9 {
		return time.Time{}, fmt.Errorf("time extension: %d nanoseconds", nsec)
	}
	if offset <= -24*3600 || offset >= 24*3600 {
		return time.Time{}, fmt.Errorf("time extension: offset %ds", offset)
	}
	t := time.Unix(secs, int64(nsec))
	switch {
	case offset == 0 && (len(name) == 0 || string(name) == "UTC"):
		return t.UTC(), nil
	case len(name) != 0:
		if loc := zoneByName(name); loc != nil {
			if lt := t.In(loc); zoneOffset(lt) == offset {
				return lt, nil
			}
		}
	}
	return t.In(time.FixedZone(string(name), offset)), nil
}

func zoneOffset(t time.Time) int { _, o := t.Zone(); return o }

func decodeTime(d *msgpack.Decoder, v reflect.Value) error {
	c, err := d.PeekCode()
	if err != nil {
		return err
	}
	var t time.Time
	switch {
	case c == msgpcode.Nil:
		_ = d.Skip()
	case msgpcode.IsExt(c):
		id, n, err := d.DecodeExtHeader()
		if err != nil {
			return err
		}
		switch id {
		case ExtTime:
			if t, err = readTimeExt(d, n); err != nil {
				return err
			}
		case extMsgTime:
			if t, err = readMsgpackTimestamp(d, n); err != nil {
				return err
			}
		default:
			return fmt.Errorf("ext type %d where a time (ext %d) was expected", id, ExtTime)
		}
	default:
		// Strings (RFC 3339) and other forms msgpack's own decoder knows.
		if t, err = d.DecodeTime(); err != nil {
			return err
		}
	}
	setTime(v, t)
	return nil
}

// readMsgpackTimestamp reads the body of a standard ext -1 timestamp
// (4, 8 or 12 bytes), as msgpack's own decoder does.
func readMsgpackTimestamp(d *msgpack.Decoder, n int) (time.Time, error) {
	b, err := extBytes(d, n)
	if err != nil {
		return time.Time{}, err
	}
	switch n {
	case 4:
		return time.Unix(int64(binary.BigEndian.Uint32(b)), 0).UTC(), nil
	case 8:
		x := binary.BigEndian.Uint64(b)
		return time.Unix(int64(x&0x3ffffffff), int64(x>>34)).UTC(), nil
	case 12:
		nsec := binary.BigEndian.Uint32(b)
		if nsec >= 1e9 {
			return time.Time{}, fmt.Errorf("timestamp: %d nanoseconds", nsec)
		}
		return time.Unix(int64(binary.BigEndian.Uint64(b[4:])), int64(nsec)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("timestamp extension of %d bytes", n)
}
