package codec

import (
	"encoding/binary"
	"fmt"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// ExtTagged is the extension type of a tagged value: a value together with
// the tags it carries and each tag's token when the value was computed. A
// reader holds the tokens against the tags' current ones, so that one
// write to a tag makes every value that carries it absent. It appears only
// as the whole payload, around a plain value or a stamped one (ExtStamp),
// never inside a structure: a reader that does not know it refuses the
// value as corrupt, a miss rather than a value that should have been
// invalidated.
const ExtTagged int8 = 4

// Bounds of a tagged value's tag section (docs/wire-format.md). A value
// read carries at most MaxTags tags, whose names and tokens are at most
// MaxTagBytes and MaxTokenBytes long, none empty.
const (
	MaxTags       = 32
	MaxTagBytes   = 256
	MaxTokenBytes = 64
)

// Tag is one tag a value carries and the tag's token when the value was
// computed.
type Tag struct {
	Name, Token string
}

// AppendMarshalTagged appends the envelope of v, stamped with st when st
// is not nil and carrying tags when there are any: the form every
// get-or-load and tagged write takes. Without tags and stamp it is
// AppendMarshal. Tags must be within MaxTags, MaxTagBytes and
// MaxTokenBytes (ErrInvalid otherwise: nothing is written).
func (c *Codec) AppendMarshalTagged(dst []byte, storageKey string, v any, st *Stamp, tags []Tag) ([]byte, error) {
	if st == nil && len(tags) == 0 {
		return c.AppendMarshal(dst, storageKey, v)
	}
	if err := checkTags(tags); err != nil {
		return dst, err
	}
	start := len(dst)
	// The wrapped value is MessagePack, never the raw codec.
	if b, ok := v.([]byte); ok {
		v = bytesValue(b)
	}
	out, err := c.appendPayload(dst, v)
	if err != nil {
		return dst[:start], err
	}
	if st != nil {
		out = wrapExt(out, start, ExtStamp, stampHead(*st))
	}
	if len(tags) > 0 {
		out = wrapExt(out, start, ExtTagged, tagHead(tags))
	}
	if out, err = c.finish(out, start, storageKey); err != nil {
		return dst[:start], err
	}
	return out, nil
}

// checkTags holds tags to the bounds a reader enforces: what a writer
// writes, every reader reads.
func checkTags(tags []Tag) error {
	if len(tags) > MaxTags {
		return fmt.Errorf("%w: %d tags, over %d", ErrInvalid, len(tags), MaxTags)
	}
	for _, t := range tags {
		if len(t.Name) == 0 || len(t.Name) > MaxTagBytes {
			return fmt.Errorf("%w: tag name of %d bytes (1 to %d)", ErrInvalid, len(t.Name), MaxTagBytes)
		}
		if len(t.Token) == 0 || len(t.Token) > MaxTokenBytes {
			return fmt.Errorf("%w: token of tag %q of %d bytes (1 to %d)", ErrInvalid, t.Name, len(t.Token), MaxTokenBytes)
		}
	}
	return nil
}

// tagHead is a tag section: the count, then each name and token with its
// length, all lengths as uvarints.
func tagHead(tags []Tag) []byte {
	h := binary.AppendUvarint(nil, uint64(len(tags)))
	for _, t := range tags {
		h = binary.AppendUvarint(h, uint64(len(t.Name)))
		h = append(h, t.Name...)
		h = binary.AppendUvarint(h, uint64(len(t.Token)))
		h = append(h, t.Token...)
	}
	return h
}

// wrapExt turns the MessagePack value after the header at out[start] into
// an extension typ whose body is head and then the value.
func wrapExt(out []byte, start int, typ int8, head []byte) []byte {
	value := append([]byte(nil), out[start+1:]...)
	out = out[:start+1]
	n := len(head) + len(value)
	switch {
	case n <= 0xff:
		out = append(out, msgpcode.Ext8, byte(n))
	case n <= 0xffff:
		out = append(out, msgpcode.Ext16, byte(n>>8), byte(n))
	default:
		out = append(out, msgpcode.Ext32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	out = append(out, byte(typ))
	out = append(out, head...)
	return append(out, value...)
}

// extBody returns the body of payload when the whole payload is one
// extension of type typ; ok is false when it is not one. A payload that
// is one but whose length disagrees with its header is corrupt.
func extBody(payload []byte, typ int8) (body []byte, ok bool, err error) {
	if len(payload) < 3 {
		return nil, false, nil
	}
	var n, hdr int
	switch payload[0] {
	case msgpcode.Ext8:
		n, hdr = int(payload[1]), 2
	case msgpcode.Ext16:
		if len(payload) < 4 {
			return nil, false, nil
		}
		n, hdr = int(binary.BigEndian.Uint16(payload[1:])), 3
	case msgpcode.Ext32:
		if len(payload) < 6 {
			return nil, false, nil
		}
		n, hdr = int(binary.BigEndian.Uint32(payload[1:])), 5
	default:
		return nil, false, nil
	}
	if int8(payload[hdr]) != typ {
		return nil, false, nil
	}
	body = payload[hdr+1:]
	if n != len(body) {
		return nil, true, fmt.Errorf("%w: extension %d of %d bytes in %d", ErrCorrupt, typ, n, len(body))
	}
	return body, true, nil
}

// untag splits a tagged payload into its tag section and inner value. ok
// is false when the payload is not tagged. The section is checked here,
// once, so that EachTag can walk it without errors.
func untag(payload []byte) (section, inner []byte, ok bool, err error) {
	body, ok, err := extBody(payload, ExtTagged)
	if !ok || err != nil {
		return nil, payload, ok, err
	}
	count, k := binary.Uvarint(body)
	if k <= 0 || count == 0 || count > MaxTags {
		return nil, nil, true, fmt.Errorf("%w: tagged value with a bad tag count", ErrCorrupt)
	}
	rest := body[k:]
	for range count {
		for _, bound := range [2]uint64{MaxTagBytes, MaxTokenBytes} {
			n, k := binary.Uvarint(rest)
			if k <= 0 || n == 0 || n > bound || n > uint64(len(rest)-k) {
				return nil, nil, true, fmt.Errorf("%w: tagged value with a bad tag", ErrCorrupt)
			}
			rest = rest[k+int(n):]
		}
	}
	if len(rest) == 0 {
		return nil, nil, true, fmt.Errorf("%w: tagged value without a value", ErrCorrupt)
	}
	if _, nested, _ := extBody(rest, ExtTagged); nested {
		return nil, nil, true, fmt.Errorf("%w: tagged value inside a tagged value", ErrCorrupt)
	}
	return body[:len(body)-len(rest)], rest, true, nil
}

// EachTag calls f with each tag's name and token in section (Meta.Tags),
// in the order they were written, until f returns false. The slices alias
// the value read and must not be kept.
func EachTag(section []byte, f func(name, token []byte) bool) {
	count, k := binary.Uvarint(section)
	if k <= 0 {
		return
	}
	rest := section[k:]
	for range count {
		var pair [2][]byte
		for i := range pair {
			n, k := binary.Uvarint(rest)
			if k <= 0 || n > uint64(len(rest)-k) {
				return
			}
			pair[i], rest = rest[k:k+int(n)], rest[k+int(n):]
		}
		if !f(pair[0], pair[1]) {
			return
		}
	}
}

// Tags returns the tags of section (Meta.Tags) as values of their own.
func Tags(section []byte) []Tag {
	var out []Tag
	EachTag(section, func(name, token []byte) bool {
		out = append(out, Tag{string(name), string(token)})
		return true
	})
	return out
}

// Meta is what an envelope carries beside its value: a stamp and tags.
type Meta struct {
	Stamp   Stamp
	Stamped bool
	// Tags is the tag section of a tagged value, nil for an untagged one:
	// walk it with EachTag or Tags. It aliases the bytes read (or their
	// decompressed copy).
	Tags []byte
}

// UnmarshalMeta decodes an envelope into v, as Unmarshal, and fills m
// with its stamp and tags.
func (c *Codec) UnmarshalMeta(storageKey string, data []byte, v any, m *Meta) error {
	*m = Meta{}
	return c.unmarshal(storageKey, data, v, m)
}
