package codec

import (
	"bytes"
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// Canonical encoding: equal values make equal bytes, and a time keeps its
// zone wherever it is. msgpack/v5 sorts the keys of map[string]string and
// map[string]any only, writes other maps in Go's random iteration order,
// and writes a time.Time held in a map[string]any as its own ext -1, which
// has no zone. So the codec registers its own encoder for every map type
// it meets, and for []any, before msgpack first builds an encoder that
// would use them (msgpack caches the encoders of a struct's fields when it
// first sees the struct, whether encoding or decoding).
//
// Keys are sorted: all integers by value, all strings by their bytes, and
// any other mix by the bytes of each key's MessagePack encoding
// (docs/wire-format.md, "Maps").

var (
	canonicalTypes sync.Map // reflect.Type -> bool: holds an interface (its values must be walked)
)

func init() {
	msgpack.Register(map[string]any{}, encodeSortedMap, nil)
	msgpack.Register([]any{}, encodeAnySlice, nil)
	canonicalTypes.Store(reflect.TypeFor[map[string]any](), true)
	canonicalTypes.Store(reflect.TypeFor[[]any](), true)
}

// prepareType registers the canonical encoders for every map type
// reachable from t, once per type, and reports whether t can hold
// interfaces, whose dynamic values must be prepared as they are met.
func prepareType(t reflect.Type) bool {
	if t == nil {
		return false
	}
	if dyn, ok := canonicalTypes.Load(t); ok {
		return dyn.(bool)
	}
	dyn := walkType(t, map[reflect.Type]bool{})
	canonicalTypes.Store(t, dyn)
	return dyn
}

func walkType(t reflect.Type, seen map[reflect.Type]bool) (dyn bool) {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return walkType(t.Elem(), seen)
	case reflect.Map:
		dyn = walkType(t.Key(), seen)
		dyn = walkType(t.Elem(), seen) || dyn
		if _, done := canonicalTypes.Load(t); !done {
			msgpack.Register(reflect.Zero(t).Interface(), encodeSortedMap, nil)
		}
		return dyn
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				dyn = walkType(f.Type, seen) || dyn
			}
		}
	}
	return dyn
}

// prepareValue prepares the dynamic types inside v, a value whose type
// holds interfaces: a map[int]string in a struct's `any` field, or in a
// []any, is met only here. The codec walks a value once, before encoding
// it; the encoders above then find every encoder in place. depth bounds
// the walk (a pointer cycle): an interface and a pointer each count a
// level, so the bound is a multiple of the MaxDepth a reader accepts.
func prepareValue(v reflect.Value, depth int) {
	if depth > 4*MaxDepth || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if !v.IsNil() {
			if v.Kind() == reflect.Interface && !prepareType(v.Elem().Type()) {
				return
			}
			prepareValue(v.Elem(), depth+1)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := range v.Len() {
			prepareValue(v.Index(i), depth+1)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			prepareValue(it.Key(), depth+1)
			prepareValue(it.Value(), depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				prepareValue(v.Field(i), depth+1)
			}
		}
	}
}

// encodeElem encodes a map's key or value or a []any's element: an
// interface's dynamic value goes through msgpack's encoder for its type
// (never Encode's shortcut, which writes a time as ext -1). The value was
// prepared by the codec's walk before encoding began.
func encodeElem(e *msgpack.Encoder, v reflect.Value) error {
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return e.EncodeNil()
		}
		v = v.Elem()
	}
	return e.EncodeValue(v)
}

func encodeAnySlice(e *msgpack.Encoder, v reflect.Value) error {
	if v.IsNil() {
		return e.EncodeNil()
	}
	if err := e.EncodeArrayLen(v.Len()); err != nil {
		return err
	}
	for i := range v.Len() {
		if err := encodeElem(e, v.Index(i)); err != nil {
			return err
		}
	}
	return nil
}

func encodeSortedMap(e *msgpack.Encoder, v reflect.Value) error {
	if v.IsNil() {
		return e.EncodeNil()
	}
	keys := v.MapKeys()
	if err := sortKeys(keys); err != nil {
		return err
	}
	if err := e.EncodeMapLen(len(keys)); err != nil {
		return err
	}
	for _, k := range keys {
		if err := encodeElem(e, k); err != nil {
			return err
		}
		if err := encodeElem(e, v.MapIndex(k)); err != nil {
			return err
		}
	}
	return nil
}

// keyClass is how a key sorts: integers by value, strings by bytes, the
// rest by their encoding.
func keyClass(k reflect.Value) (reflect.Value, int) {
	if k.Kind() == reflect.Interface && !k.IsNil() {
		k = k.Elem()
	}
	switch k.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return k, 1
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return k, 2
	case reflect.String:
		return k, 3
	}
	return k, 0
}

func sortKeys(keys []reflect.Value) error {
	if len(keys) < 2 {
		return nil
	}
	_, class := keyClass(keys[0])
	for _, k := range keys[1:] {
		switch _, c := keyClass(k); {
		case c == class:
		case (c == 1 || c == 2) && (class == 1 || class == 2 || class == 4):
			class = 4 // signed and unsigned integers together
		default:
			class = 0
		}
	}
	switch class {
	case 1:
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			x, _ := keyClass(a)
			y, _ := keyClass(b)
			return cmp.Compare(x.Int(), y.Int())
		})
	case 2:
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			x, _ := keyClass(a)
			y, _ := keyClass(b)
			return cmp.Compare(x.Uint(), y.Uint())
		})
	case 4:
		slices.SortFunc(keys, func(a, b reflect.Value) int { return cmpMixedInt(a, b) })
	case 3:
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			x, _ := keyClass(a)
			y, _ := keyClass(b)
			return strings.Compare(x.String(), y.String())
		})
	default:
		enc := make([][]byte, len(keys))
		for i, k := range keys {
			b, err := msgpack.Marshal(k.Interface())
			if err != nil {
				return err
			}
			enc[i] = b
		}
		idx := make([]int, len(keys))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return bytes.Compare(enc[a], enc[b]) })
		sorted := make([]reflect.Value, len(keys))
		for i, j := range idx {
			sorted[i] = keys[j]
		}
		copy(keys, sorted)
	}
	return nil
}

// cmpMixedInt orders signed and unsigned integer keys by value.
func cmpMixedInt(a, b reflect.Value) int {
	x, cx := keyClass(a)
	y, cy := keyClass(b)
	switch {
	case cx == 1 && cy == 1:
		return cmp.Compare(x.Int(), y.Int())
	case cx == 2 && cy == 2:
		return cmp.Compare(x.Uint(), y.Uint())
	case cx == 1: // signed against unsigned
		if x.Int() < 0 {
			return -1
		}
		return cmp.Compare(uint64(x.Int()), y.Uint())
	default:
		if y.Int() < 0 {
			return 1
		}
		return cmp.Compare(x.Uint(), uint64(y.Int()))
	}
}

// decodeAnyMap reads a map into an interface: a map[string]any when every
// key is a string (the usual case, and what msgpack gives), and a
// map[any]any otherwise, so that a map[int]string written by Go or a dict
// with integer keys written by Python can be read back without a
// destination type.
func decodeAnyMap(d *msgpack.Decoder) (any, error) {
	n, err := d.DecodeMapLen()
	if err != nil || n < 0 {
		return nil, err
	}
	m := make(map[string]any, min(n, 64))
	var other map[any]any
	for range n {
		k, err := d.DecodeInterfaceLoose()
		if err != nil {
			return nil, err
		}
		v, err := d.DecodeInterfaceLoose()
		if err != nil {
			return nil, err
		}
		if ks, ok := k.(string); ok && other == nil {
			m[ks] = v
			continue
		}
		if other == nil {
			other = make(map[any]any, len(m)+1)
			for ks, v := range m {
				other[ks] = v
			}
		}
		if k != nil && !reflect.TypeOf(k).Comparable() {
			return nil, fmt.Errorf("%w: a map key of type %T", ErrCorrupt, k)
		}
		other[k] = v
	}
	if other != nil {
		return other, nil
	}
	return m, nil
}
