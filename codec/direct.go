package codec

import "sync"

// CanonicalMarshaler is implemented by a type that writes its own payload,
// byte for byte what the reflective encoder would write for it (see
// Writer). The codec calls it instead of reflecting over the value.
// cmd/tradecache-gen writes it, with a test that holds it to the
// reflective encoder.
type CanonicalMarshaler interface {
	MarshalCanonical(w *Writer)
}

// CanonicalUnmarshaler is implemented by a type that reads its own
// payload on the canonical path (see Reader). UnmarshalCanonical reports
// false, leaving the receiver as it was, for anything off that path; the
// codec then decodes the payload with reflection, so that every input
// gets exactly the value or the error the reflective decoder gives it.
// cmd/tradecache-gen writes it, with a test that holds it to the
// reflective decoder on random values and mutated bytes.
type CanonicalUnmarshaler interface {
	UnmarshalCanonical(r *Reader) bool
}

// appendCanonical appends v's payload through its MarshalCanonical method
// when it has one, and reports whether it did: a value whose method met
// something the reflective encoder refuses (an extension too long) is
// encoded with reflection, which says why.
func (c *Codec) appendCanonical(dst []byte, v any) ([]byte, bool) {
	m, ok := v.(CanonicalMarshaler)
	if !ok || c.reflective {
		return dst, false
	}
	// Pooled: a Writer handed to an interface method escapes, and one
	// allocation per call is what this path exists to save.
	w := writerPool.Get().(*Writer)
	w.b, w.bad = append(dst, Version1<<versionShift), false
	m.MarshalCanonical(w)
	out, bad := w.b, w.bad
	w.b = nil
	writerPool.Put(w)
	if bad {
		return dst, false
	}
	return out, true
}

var (
	writerPool = sync.Pool{New: func() any { return new(Writer) }}
	readerPool = sync.Pool{New: func() any { return new(Reader) }}
)

// unmarshalCanonical decodes payload into v through its
// UnmarshalCanonical method when it has one, and reports whether it did.
func (c *Codec) unmarshalCanonical(payload []byte, v any) bool {
	u, ok := v.(CanonicalUnmarshaler)
	if !ok || c.reflective {
		return false
	}
	r := readerPool.Get().(*Reader)
	*r = Reader{b: payload}
	ok = u.UnmarshalCanonical(r)
	*r = Reader{} // the payload and the slab belong to the caller now
	readerPool.Put(r)
	return ok
}

// ReadCanonical reports whether u's UnmarshalCanonical method reads the
// envelope data on the canonical path (an uncompressed, unsealed,
// unstamped envelope): a test's way to show the path is taken.
func ReadCanonical(data []byte, u CanonicalUnmarshaler) bool {
	if len(data) < 1 || data[0] != Version1<<versionShift {
		return false
	}
	return u.UnmarshalCanonical(&Reader{b: data[1:]})
}
