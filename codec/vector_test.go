package codec_test

import (
	"errors"
	"math"
	"testing"

	"github.com/tradecache/tradecache/codec"
)

type features struct {
	Entity string         `json:"entity"`
	Emb    codec.Vector32 `json:"emb"`
	Score  codec.Vector64 `json:"score"`
	Plain  []float32      `json:"plain"`
}

// Vectors come back bit for bit (NaN payloads and signed zeros
// included), take 4 and 8 bytes an element, and a payload that is not a
// whole number of elements is corrupt.
func TestVectorsAreExactAndCompact(t *testing.T) {
	c, err := codec.New(codec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nan := math.Float32frombits(0x7fc00123)
	in := features{Entity: "AAPL", Emb: codec.Vector32{1.5, float32(math.Copysign(0, -1)), nan, math.MaxFloat32, math.SmallestNonzeroFloat32},
		Score: codec.Vector64{math.Pi, -1e300, math.Float64frombits(0x7ff8000000000abc)}, Plain: []float32{1, 2}}
	b, err := c.Marshal("", in)
	if err != nil {
		t.Fatal(err)
	}
	var out features
	if err := c.Unmarshal("", b, &out); err != nil {
		t.Fatal(err)
	}
	for i := range in.Emb {
		if math.Float32bits(out.Emb[i]) != math.Float32bits(in.Emb[i]) {
			t.Fatalf("Emb[%d] = %x, want %x", i, math.Float32bits(out.Emb[i]), math.Float32bits(in.Emb[i]))
		}
	}
	for i := range in.Score {
		if math.Float64bits(out.Score[i]) != math.Float64bits(in.Score[i]) {
			t.Fatalf("Score[%d] = %x, want %x", i, math.Float64bits(out.Score[i]), math.Float64bits(in.Score[i]))
		}
	}
	// 1000 float32: 4000 bytes of payload, and a few of header.
	big, err := c.Marshal("", codec.Vector32(make([]float32, 1000)))
	if err != nil {
		t.Fatal(err)
	}
	if len(big) > 4000+8 {
		t.Fatalf("1000 float32 in %d bytes", len(big))
	}
	var back any
	if err := c.Unmarshal("", big, &back); err != nil {
		t.Fatal(err)
	}
	if v, ok := back.(codec.Vector32); !ok || len(v) != 1000 {
		t.Fatalf("into any: %T of %d", back, len(v))
	}
	// 7 bytes cannot be float32s.
	bad := []byte{0x10, 0xc7, 0x07, 0x05, 1, 2, 3, 4, 5, 6, 7}
	if err := c.Unmarshal("", bad, &back); !errors.Is(err, codec.ErrCorrupt) {
		t.Fatalf("a 7-byte float32 vector: %v, want ErrCorrupt", err)
	}
}
