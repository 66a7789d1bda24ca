package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Vectors: model features, embeddings and predictions travel as
// extensions whose payload is the elements' IEEE 754 bits, little-endian,
// one after another: 4 bytes a float32 (extension 5), 8 a float64
// (extension 6). That is exact, NaN payloads and signed zeros included,
// and compact: a MessagePack array spends 5 and 9 bytes an element. Unlike
// the other extensions, a vector's payload is not capped at 4096 bytes:
// decoding it costs one allocation of the payload's own size, so a reader
// spends on it what the bytes it read are worth, and the value's own
// bounds (MaxDecoded) cap it.
const (
	ExtVector32 int8 = 5
	ExtVector64 int8 = 6
)

// Vector32 is a vector of float32 that the envelope carries as extension
// 5. A plain []float32 is still a MessagePack array of float32.
type Vector32 []float32

// Vector64 is a vector of float64 that the envelope carries as extension
// 6. A plain []float64 is still a MessagePack array of float64.
type Vector64 []float64

func init() {
	// Into an interface{}. msgpack makes the value of a registered slice
	// type wrongly (it allocates the element type, and panics), so these
	// are registered for pointers, which it makes right; the codec then
	// replaces each pointer with its vector (derefVectors).
	msgpack.RegisterExtDecoder(ExtVector32, (*Vector32)(nil), func(d *msgpack.Decoder, v reflect.Value, n int) error {
		vec, err := readVector32(d, n)
		if err == nil {
			v.Elem().Set(reflect.ValueOf(vec))
			markVectors(d)
		}
		return err
	})
	msgpack.RegisterExtDecoder(ExtVector64, (*Vector64)(nil), func(d *msgpack.Decoder, v reflect.Value, n int) error {
		vec, err := readVector64(d, n)
		if err == nil {
			v.Elem().Set(reflect.ValueOf(vec))
			markVectors(d)
		}
		return err
	})
	// Type-level ones last: RegisterExtDecoder installs type-level
	// decoders of its own, which these replace (as in ext.go).
	msgpack.Register(Vector32(nil), encodeVector32, decodeVector32)
	msgpack.Register(Vector64(nil), encodeVector64, decodeVector64)
}

func markVectors(d *msgpack.Decoder) {
	if pr, ok := d.Buffered().(*payloadReader); ok {
		pr.vectors = true
	}
}

// derefVectors replaces, inside v (reached through interfaces, maps and
// slices of them), each *Vector32 and *Vector64 with the vector itself.
func derefVectors(v reflect.Value, depth int) {
	if depth > 4*MaxDepth || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		switch p := v.Elem().Interface().(type) {
		case *Vector32:
			v.Set(reflect.ValueOf(*p))
		case *Vector64:
			v.Set(reflect.ValueOf(*p))
		default:
			e := v.Elem()
			if e.Kind() == reflect.Map || e.Kind() == reflect.Slice {
				derefVectors(e, depth+1)
			}
		}
	case reflect.Pointer:
		derefVectors(v.Elem(), depth+1)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Interface {
			for i := range v.Len() {
				derefVectors(v.Index(i), depth+1)
			}
		}
	case reflect.Map:
		if v.Type().Elem().Kind() != reflect.Interface {
			return
		}
		it := v.MapRange()
		for it.Next() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(it.Value())
			before := e.Interface()
			derefVectors(e, depth+1)
			if e.Interface() != nil && before != nil && reflect.TypeOf(before) != reflect.TypeOf(e.Interface()) {
				v.SetMapIndex(it.Key(), e)
			}
		}
	}
}

func encodeVector32(e *msgpack.Encoder, v reflect.Value) error {
	vec := v.Interface().(Vector32)
	if vec == nil {
		return e.EncodeNil()
	}
	if err := e.EncodeExtHeader(ExtVector32, 4*len(vec)); err != nil {
		return err
	}
	b := make([]byte, 4*len(vec))
	for i, f := range vec {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return writeRaw(e, b)
}

func encodeVector64(e *msgpack.Encoder, v reflect.Value) error {
	vec := v.Interface().(Vector64)
	if vec == nil {
		return e.EncodeNil()
	}
	if err := e.EncodeExtHeader(ExtVector64, 8*len(vec)); err != nil {
		return err
	}
	b := make([]byte, 8*len(vec))
	for i, f := range vec {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(f))
	}
	return writeRaw(e, b)
}

// writeRaw writes b after an extension header: into the envelope buffer
// when encoding one, through the encoder's writer otherwise.
func writeRaw(e *msgpack.Encoder, b []byte) error {
	if w, ok := envelopeOf(e); ok {
		w.b = append(w.b, b...)
		return nil
	}
	_, err := e.Writer().Write(b)
	return err
}

func decodeVector32(d *msgpack.Decoder, v reflect.Value) error {
	id, n, isNil, err := vectorHeader(d)
	if err != nil || isNil {
		v.SetZero()
		return err
	}
	if id != ExtVector32 {
		return fmt.Errorf("%w: extension %d where a float32 vector (extension %d) was expected", errExt, id, ExtVector32)
	}
	vec, err := readVector32(d, n)
	if err == nil {
		v.Set(reflect.ValueOf(vec))
	}
	return err
}

func decodeVector64(d *msgpack.Decoder, v reflect.Value) error {
	id, n, isNil, err := vectorHeader(d)
	if err != nil || isNil {
		v.SetZero()
		return err
	}
	if id != ExtVector64 {
		return fmt.Errorf("%w: extension %d where a float64 vector (extension %d) was expected", errExt, id, ExtVector64)
	}
	vec, err := readVector64(d, n)
	if err == nil {
		v.Set(reflect.ValueOf(vec))
	}
	return err
}

// vectorHeader reads a vector's extension header, or a nil.
func vectorHeader(d *msgpack.Decoder) (id int8, n int, isNil bool, err error) {
	c, err := d.PeekCode()
	if err != nil {
		return 0, 0, false, err
	}
	if c == msgpcode.Nil {
		return 0, 0, true, d.Skip()
	}
	if !msgpcode.IsExt(c) {
		return 0, 0, false, fmt.Errorf("%w: code 0x%02x where a vector (an extension) was expected", errExt, c)
	}
	id, n, err = d.DecodeExtHeader()
	return id, n, false, err
}

// vectorBytes returns a vector's n payload bytes (a view of the envelope
// when decoding one), refusing a length that is not a whole number of
// elements of size bytes.
func vectorBytes(d *msgpack.Decoder, n, size int) ([]byte, error) {
	if n < 0 || n%size != 0 {
		return nil, fmt.Errorf("%w: a vector of %d-byte elements in %d bytes", errExt, size, n)
	}
	return payloadBytes(d, n)
}

func readVector32(d *msgpack.Decoder, n int) (Vector32, error) {
	b, err := vectorBytes(d, n, 4)
	if err != nil {
		return nil, err
	}
	vec := make(Vector32, n/4)
	for i := range vec {
		vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return vec, nil
}

func readVector64(d *msgpack.Decoder, n int) (Vector64, error) {
	b, err := vectorBytes(d, n, 8)
	if err != nil {
		return nil, err
	}
	vec := make(Vector64, n/8)
	for i := range vec {
		vec[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return vec, nil
}
