package codec_test

import (
	"errors"
	"testing"

	"github.com/tradecache/tradecache/codec"
)

// A second decode into the same *any replaces what the first left there.
func TestDecodeIntoAnAnyTwice(t *testing.T) {
	c := newCodec(t, codec.Options{})
	m, _ := c.Marshal("", map[string]any{"a": 1})
	var v any
	for i := range 2 {
		if err := c.Unmarshal("", m, &v); err != nil {
			t.Fatalf("decode %d: %v", i, err)
		}
	}
	if mv, ok := v.(map[string]any); !ok || len(mv) != 1 {
		t.Fatalf("v = %#v", v)
	}
	s, _ := c.Marshal("", "text")
	if err := c.Unmarshal("", s, &v); err != nil || v != "text" {
		t.Fatalf("a string over a map: %v, %#v", err, v)
	}
}

type fields struct {
	Symbol string `json:"symbol"`
	Seq    uint64 `json:"seq"`
}

// A well-formed envelope that does not fit the destination says so: it is
// not "corrupt".
func TestWrongTypeIsNotCorrupt(t *testing.T) {
	c := newCodec(t, codec.Options{})
	b, _ := c.Marshal("", []string{"a", "b"})
	var f fields
	err := c.Unmarshal("", b, &f)
	if !errors.Is(err, codec.ErrType) || errors.Is(err, codec.ErrCorrupt) {
		t.Fatalf("decoding an array into a struct: %v, want ErrType and not ErrCorrupt", err)
	}
	// Bytes that are not an envelope are still corrupt.
	if err := c.Unmarshal("", []byte{0x10, 0xc1}, &f); !errors.Is(err, codec.ErrCorrupt) {
		t.Fatalf("garbage: %v", err)
	}
}

// A msgpack nil decodes into a pointer or an interface (nil), never into a
// struct as a zero value that would read as found and valid.
func TestNilIntoAStructIsAnError(t *testing.T) {
	c := newCodec(t, codec.Options{})
	nilEnv := []byte{0x10, 0xc0}
	var f fields
	if err := c.Unmarshal("", nilEnv, &f); !errors.Is(err, codec.ErrType) {
		t.Fatalf("nil into a struct: %v, want ErrType", err)
	}
	var p *fields
	if err := c.Unmarshal("", nilEnv, &p); err != nil || p != nil {
		t.Fatalf("nil into a pointer: %v, %v", err, p)
	}
	var a any
	if err := c.Unmarshal("", nilEnv, &a); err != nil || a != nil {
		t.Fatalf("nil into any: %v, %v", err, a)
	}
}

type validated struct {
	Symbol string `json:"symbol"`
}

func (v validated) Validate() error {
	if v.Symbol == "" {
		return errors.New("no symbol")
	}
	return nil
}

// A type's Validate method refuses what decodes but makes no sense; strict
// mode refuses a map written by another type.
func TestValidateHookAndStrictMode(t *testing.T) {
	c := newCodec(t, codec.Options{})
	other, _ := c.Marshal("", map[string]any{"price": 1})
	var v validated
	if err := c.Unmarshal("", other, &v); !errors.Is(err, codec.ErrInvalid) {
		t.Fatalf("a map with no field of the type: %v, want ErrInvalid", err)
	}
	good, _ := c.Marshal("", validated{Symbol: "AAPL"})
	if err := c.Unmarshal("", good, &v); err != nil || v.Symbol != "AAPL" {
		t.Fatalf("a good value: %v, %+v", err, v)
	}
	strict := newCodec(t, codec.Options{Strict: true})
	var f fields
	extra, _ := c.Marshal("", map[string]any{"symbol": "AAPL", "venue": "X"})
	if err := strict.Unmarshal("", extra, &f); !errors.Is(err, codec.ErrType) {
		t.Fatalf("strict, an unknown field: %v, want ErrType", err)
	}
	if err := c.Unmarshal("", extra, &f); err != nil || f.Symbol != "AAPL" {
		t.Fatalf("lenient, an unknown field: %v, %+v", err, f)
	}
}

// Stored uncompressed, a value is still bounded: past MaxDecodedSize in
// bytes, or past MaxValues values (16 MiB of empty maps would otherwise
// decode to a gigabyte).
func TestUncompressedValuesAreBounded(t *testing.T) {
	c := newCodec(t, codec.Options{MaxDecodedSize: 1 << 20})
	big := append([]byte{codec.Version1<<4 | 0x08}, make([]byte, 2<<20)...) // raw, 2 MiB
	var b []byte
	if err := c.Unmarshal("", big, &b); !errors.Is(err, codec.ErrTooLarge) {
		t.Fatalf("2 MiB raw with a 1 MiB cap: %v", err)
	}
	d := newCodec(t, codec.Options{})
	n := codec.MaxValues + 1
	maps := append([]byte{codec.Version1 << 4, 0xdd, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, make([]byte, n)...)
	for i := 6; i < len(maps); i++ {
		maps[i] = 0x80
	}
	var v any
	if err := d.Unmarshal("", maps, &v); !errors.Is(err, codec.ErrTooLarge) {
		t.Fatalf("%d empty maps stored uncompressed: %v", n, err)
	}
}
