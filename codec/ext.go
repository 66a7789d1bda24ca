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
	for _, id := range append([]int8{ExtDecimal}, scaledIDs()...) {
		msgpack.RegisterExtDecoder(id, decimal.Decimal{}, func(d *msgpack.Decoder, v reflect.Value, n int) error {
			dec, err := readDecimal(d, id, n)
			if err != nil {
				return err
			}
			setDecimal(v, dec)
			return nil
		})
	}
	msgpack.RegisterExtDecoder(ExtTime, time.Time{}, func(d *msgpack.Decoder, v reflect.Value, n int) error {
		t, err := readTimeExt(d, n)
		if err != nil {
			return err
		}
		setTime(v, t)
		return nil
	})
	// MessagePack's own timestamp inside an interface: UTC, as everywhere
	// else, not msgpack's time.Local. (This also installs a type-level
	// decoder for time.Time, which the Register below replaces.)
	msgpack.RegisterExtDecoder(extMsgTime, time.Time{}, func(d *msgpack.Decoder, v reflect.Value, n int) error {
		t, err := readMsgpackTimestamp(d, n)
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

func envelopeOf(e *msgpack.Encoder) (*envBuf, bool) {
	w, ok := e.Writer().(*envBuf)
	return w, ok
}

// DecimalString formats d with its scale kept: "150.00" for coefficient
// 15000 and exponent -2, "0.00000000" for 0E-8, and "15E3" for a positive
// exponent. It is a display helper; the envelope stores decimals in binary.
func DecimalString(d decimal.Decimal) string {
	exp := d.Exponent()
	if exp <= 0 {
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

// writeExt writes extension id with payload tmp; msgpack picks its smallest
// header for the length (fixext for 1, 2, 4, 8 and 16 bytes).
func writeExt(e *msgpack.Encoder, w *envBuf, id int8, tmp []byte) error {
	if len(tmp) > maxExtLen {
		return fmt.Errorf("extension %d payload of %d bytes exceeds %d", id, len(tmp), maxExtLen)
	}
	if err := e.EncodeExtHeader(id, len(tmp)); err != nil {
		return err
	}
	w.b = append(w.b, tmp...)
	return nil
}

func encodeDecimal(e *msgpack.Encoder, v reflect.Value) error {
	d := decimalOf(v)
	w, ok := envelopeOf(e)
	if !ok {
		// Outside an envelope, behave as msgpack does by default.
		b, err := d.MarshalBinary()
		if err != nil {
			return err
		}
		return e.EncodeBytes(b)
	}
	var tmp [32]byte
	if id, coef, ok := scaledDecimal(d); ok {
		return writeExt(e, w, id, appendFixedInt(tmp[:0], coef))
	}
	return writeExt(e, w, ExtDecimal, appendDecimalExt(tmp[:0], d))
}

func encodeTime(e *msgpack.Encoder, v reflect.Value) error {
	t := timeOf(v)
	w, ok := envelopeOf(e)
	if !ok {
		return e.EncodeTime(t)
	}
	var tmp [64]byte
	return writeExt(e, w, ExtTime, appendTimeExt(tmp[:0], t))
}

// extBytes returns the next n bytes of an extension's payload: a view of
// the envelope when decoding one, a copy otherwise.
func extBytes(d *msgpack.Decoder, n int) ([]byte, error) {
	if n < 0 || n > maxExtLen {
		return nil, fmt.Errorf("%w: extension of %d bytes", errExt, n)
	}
	return payloadBytes(d, n)
}

// payloadBytes returns the next n bytes the decoder reads: a view of the
// envelope when decoding one, a copy otherwise.
func payloadBytes(d *msgpack.Decoder, n int) ([]byte, error) {
	if pr, ok := d.Buffered().(*payloadReader); ok {
		if b, ok := pr.next(n); ok {
			return b, nil
		}
		return nil, io.ErrUnexpectedEOF
	}
	b := make([]byte, n)
	return b, d.ReadFull(b)
}

func scaledIDs() []int8 {
	var ids []int8
	for id := ExtScaledDecimalMin; id <= ExtScaledDecimalMax; id++ {
		ids = append(ids, id)
	}
	return ids
}

// readDecimal reads the payload of decimal extension id (general or
// scaled).
func readDecimal(d *msgpack.Decoder, id int8, n int) (decimal.Decimal, error) {
	b, err := extBytes(d, n)
	if err != nil {
		return decimal.Decimal{}, err
	}
	switch {
	case id == ExtDecimal:
		return parseDecimalExt(b)
	case id >= ExtScaledDecimalMin && id <= ExtScaledDecimalMax:
		return parseScaledDecimal(id, b)
	}
	return decimal.Decimal{}, fmt.Errorf("ext type %d where a decimal (ext %d or %d-%d) was expected", id, ExtDecimal, ExtScaledDecimalMin, ExtScaledDecimalMax)
}

func readTimeExt(d *msgpack.Decoder, n int) (time.Time, error) {
	b, err := extBytes(d, n)
	if err != nil {
		return time.Time{}, err
	}
	return parseTimeExt(b)
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
		if dec, err = readDecimal(d, id, n); err != nil {
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
