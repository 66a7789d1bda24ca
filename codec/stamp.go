package codec

import (
	"encoding/binary"
	"fmt"
	"time"
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
	return c.AppendMarshalTagged(dst, storageKey, v, &st, nil)
}

// stampHead is a stamp's fields, the body of its extension before the
// value.
func stampHead(st Stamp) []byte {
	h := make([]byte, 0, 3*binary.MaxVarintLen64+1)
	h = binary.AppendUvarint(h, uint64(st.AsOf.UnixNano()))
	h = binary.AppendUvarint(h, uint64(st.FreshFor))
	h = binary.AppendUvarint(h, uint64(st.LoadTime))
	flags := byte(0)
	if st.Negative {
		flags |= stampNegative
	}
	return append(h, flags)
}

// bytesValue makes a []byte encode as MessagePack bin rather than take the
// raw codec.
type bytesValue []byte

// unstamp splits a stamped payload into its stamp and inner value. ok is
// false when the payload is not stamped.
func unstamp(payload []byte) (st Stamp, inner []byte, ok bool, err error) {
	body, ok, err := extBody(payload, ExtStamp)
	if !ok || err != nil {
		return st, payload, ok, err
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
	var m Meta
	err = c.unmarshal(storageKey, data, v, &m)
	return m.Stamp, m.Stamped, err
}
