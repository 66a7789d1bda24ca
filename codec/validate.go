package codec

import (
	"encoding/binary"
	"fmt"
)

// MaxDepth is how deeply arrays and maps may nest inside a payload.
const MaxDepth = 64

// validate walks a MessagePack payload without decoding it and checks that
// it is exactly one well-formed value, nested at most MaxDepth deep, whose
// every declared length fits in the bytes that remain.
//
// It exists because msgpack/v5 (v5.4.1) trusts declared lengths when it
// decodes into interface{}: found by FuzzUnmarshal, a 40-byte value whose
// array header claims 2^32 elements made it allocate 64 GiB and kill the
// process, and deep nesting recurses without bound. After this pass every
// allocation the decoder makes is bounded by the payload's size.
//
// It also counts the payload's values, and refuses more than maxValues
// (ErrTooLarge): each value costs the decoder an allocation or more, and a
// few kilobytes that decompress to millions of empty maps would otherwise
// cost gigabytes and minutes to decode.
func validate(b []byte, maxValues int) error {
	// stack[i] counts the items still expected at nesting level i.
	var stack [MaxDepth + 1]int
	depth := 0
	stack[0] = 1
	pos := 0
	values := 0
	for depth >= 0 {
		if stack[depth] == 0 {
			depth--
			continue
		}
		stack[depth]--
		if values++; values > maxValues {
			return fmt.Errorf("%w: more than %d values for a stored value of its size", ErrTooLarge, maxValues)
		}
		if pos >= len(b) {
			return fmt.Errorf("%w: truncated at byte %d", ErrCorrupt, pos)
		}
		c := b[pos]
		pos++
		var skip, items int // bytes to skip; items of a new container
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c <= 0x8f:
			items = 2 * int(c&0x0f)
		case c <= 0x9f:
			items = int(c & 0x0f)
		case c <= 0xbf:
			skip = int(c & 0x1f)
		default:
			var err error
			if skip, items, pos, err = sized(b, pos, c); err != nil {
				return err
			}
		}
		if skip < 0 || skip > len(b)-pos {
			return fmt.Errorf("%w: length %d at byte %d exceeds the %d bytes left", ErrCorrupt, skip, pos, len(b)-pos)
		}
		pos += skip
		if items > 0 {
			if items > len(b)-pos {
				return fmt.Errorf("%w: %d items declared at byte %d, only %d bytes left", ErrCorrupt, items, pos, len(b)-pos)
			}
			if depth == MaxDepth {
				return fmt.Errorf("%w: nested deeper than %d", ErrCorrupt, MaxDepth)
			}
			depth++
			stack[depth] = items
		}
	}
	if pos != len(b) {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b)-pos)
	}
	return nil
}

// sized handles the codes from 0xc4 to 0xdf, whose sizes follow the code.
func sized(b []byte, pos int, c byte) (skip, items, next int, err error) {
	n := func(width int) (int, bool) {
		if len(b)-pos < width {
			return 0, false
		}
		var v uint64
		switch width {
		case 1:
			v = uint64(b[pos])
		case 2:
			v = uint64(binary.BigEndian.Uint16(b[pos:]))
		case 4:
			v = uint64(binary.BigEndian.Uint32(b[pos:]))
		}
		pos += width
		if v > uint64(len(b)) {
			return -1, true // larger than anything that can follow
		}
		return int(v), true
	}
	var ok bool
	switch c {
	case 0xc4, 0xd9: // bin8, str8
		skip, ok = n(1)
	case 0xc5, 0xda: // bin16, str16
		skip, ok = n(2)
	case 0xc6, 0xdb: // bin32, str32
		skip, ok = n(4)
	case 0xc7, 0xc8, 0xc9: // ext8/16/32: length, then the type byte
		skip, ok = n(1 << (c - 0xc7))
		if skip >= 0 {
			skip++
		}
		if ok && pos < len(b) && !knownExt(int8(b[pos])) { // n has moved pos past the length
			return 0, 0, pos, fmt.Errorf("%w: unknown extension type %d at byte %d", ErrCorrupt, int8(b[pos]), pos)
		}
	case 0xca, 0xd2, 0xce: // float32, int32, uint32
		skip, ok = 4, true
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		skip, ok = 8, true
	case 0xcc, 0xd0: // uint8, int8
		skip, ok = 1, true
	case 0xcd, 0xd1: // uint16, int16
		skip, ok = 2, true
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16 plus the type byte
		skip, ok = 1+(1<<(c-0xd4)), true
		if pos < len(b) && !knownExt(int8(b[pos])) {
			return 0, 0, pos, fmt.Errorf("%w: unknown extension type %d at byte %d", ErrCorrupt, int8(b[pos]), pos-1)
		}
	case 0xdc: // array16
		items, ok = n(2)
	case 0xdd: // array32
		items, ok = n(4)
	case 0xde: // map16
		items, ok = n(2)
		items *= 2
	case 0xdf: // map32
		items, ok = n(4)
		items *= 2
	default: // 0xc1 is never used
		return 0, 0, pos, fmt.Errorf("%w: invalid code 0x%02x at byte %d", ErrCorrupt, c, pos-1)
	}
	if !ok {
		return 0, 0, pos, fmt.Errorf("%w: truncated length at byte %d", ErrCorrupt, pos)
	}
	if items < 0 {
		return 0, 0, pos, fmt.Errorf("%w: container larger than the payload at byte %d", ErrCorrupt, pos)
	}
	return skip, items, pos, nil
}

// knownExt reports whether id is an extension type of the format: the
// decimals (1, 16-31), the time (2), the stamp (3), the vectors (5, 6)
// and MessagePack's own timestamp (-1). Any other is corrupt
// (docs/wire-format.md).
func knownExt(id int8) bool {
	return id == extMsgTime || id == ExtDecimal || id == ExtTime || id == ExtStamp || id == ExtVector32 || id == ExtVector64 ||
		id >= ExtScaledDecimalMin && id <= ExtScaledDecimalMax
}
