package codec

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// ExtStamp is the extension type of a stamped value: a value together with
// when it was loaded and how long it stays fresh. It appears only as the
// whole payload, never inside a structure.
const ExtStamp int8 = 3

// Stamp is what get-or-load keeps beside a value, so that a read learns the
// value's age and freshness without another round trip.
type Stamp struct {
	AsOf     time.Time     // when the value was loaded
	FreshFor time.Duration // how long after AsOf it is fresh
	LoadTime time.Duration // how long the load took (XFetch's delta)
	Negative bool          // the loader found nothing: the value is empty
}

// FreshUntil returns AsOf + FreshFor.
func (s Stamp) FreshUntil() time.Time { return s.AsOf.Add(s.FreshFor) }

const stampNegative = 0x01

// AppendMarshalStamped appends the envelope of v stamped with st. A plain
// Unmarshal of it yields v; UnmarshalStamped yields v and st.
func (c *Codec) AppendMarshalStamped(dst []byte, storageKey string, v any, st Stamp) ([]byte, error) {
	start := len(dst)
	// Encode the value as MessagePack (never the raw codec: the stamp
	// wraps a MessagePack value), then wrap it.
	if b, ok := v.([]byte); ok {
		v = bytesValue(b)
	}
	inner, err := c.appendPayload(dst, v)
	if err != nil {
		return dst[:start], err
	}
	var head [3 * binary.MaxVarintLen64]byte
	h := binary.AppendUvarint(head[:0], uint64(st.AsOf.UnixNano()))
	h = binary.AppendUvarint(h, uint64(st.FreshFor))
	h = binary.AppendUvarint(h, uint64(st.LoadTime))
	flags := byte(0)
	if st.Negative {
		flags |= stampNegative
	}
	h = append(h, flags)
	value := append([]byte(nil), inner[start+1:]...)
	out := inner[:start+1]
	n := len(h) + len(value)
	switch {
	case n <= 0xff:
		out = append(out, msgpcode.Ext8, byte(n))
	case n <= 0xffff:
		out = append(out, msgpcode.Ext16, byte(n>>8), byte(n))
	default:
		out = append(out, msgpcode.Ext32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	out = append(out, byte(ExtStamp))
	out = append(out, h...)
	out = append(out, value...)
	if out, err = c.finish(out, start, storageKey); err != nil {
		return dst[:start], err
	}
	return out, nil
}

// bytesValue makes a []byte encode as MessagePack bin rather than take the
// raw codec.
type bytesValue []byte

// unstamp splits a stamped payload into its stamp and inner value. ok is
// false when the payload is not stamped.
func unstamp(payload []byte) (st Stamp, inner []byte, ok bool, err error) {
	if len(payload) < 3 {
		return st, payload, false, nil
	}
	var n, hdr int
	switch payload[0] {
	case msgpcode.Ext8:
		n, hdr = int(payload[1]), 2
	case msgpcode.Ext16:
		if len(payload) < 4 {
			return st, payload, false, nil
		}
		n, hdr = int(binary.BigEndian.Uint16(payload[1:])), 3
	case msgpcode.Ext32:
		if len(payload) < 6 {
			return st, payload, false, nil
		}
		n, hdr = int(binary.BigEndian.Uint32(payload[1:])), 5
	default:
		return st, payload, false, nil
	}
	if int8(payload[hdr]) != ExtStamp {
		return st, payload, false, nil
	}
	body := payload[hdr+1:]
	if n != len(body) {
		return st, nil, true, fmt.Errorf("%w: stamp of %d bytes in %d", ErrCorrupt, n, len(body))
	}
	var vals [3]uint64
	for i := range vals {
		v, k := binary.Uvarint(body)
		if k <= 0 {
			return st, nil, true, fmt.Errorf("%w: bad stamp", ErrCorrupt)
		}
		vals[i], body = v, body[k:]
	}
	if len(body) < 1 || body[0]&^stampNegative != 0 || vals[1] > 1<<62 || vals[2] > 1<<62 {
		return st, nil, true, fmt.Errorf("%w: bad stamp", ErrCorrupt)
	}
	st = Stamp{AsOf: time.Unix(0, int64(vals[0])), FreshFor: time.Duration(vals[1]), LoadTime: time.Duration(vals[2]), Negative: body[0]&stampNegative != 0}
	return st, body[1:], true, nil
}

// UnmarshalStamped decodes an envelope into v and returns its stamp.
// stamped is false for a value written without one (by Set, say); v is
// still decoded.
func (c *Codec) UnmarshalStamped(storageKey string, data []byte, v any) (st Stamp, stamped bool, err error) {
	err = c.unmarshal(storageKey, data, v, &st, &stamped)
	return st, stamped, err
}
