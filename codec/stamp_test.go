package codec_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache/codec"
)

func TestStampedValues(t *testing.T) {
	ring, _ := codec.NewKeyring(key("k", 1))
	for name, c := range map[string]*codec.Codec{
		"plain":  newCodec(t, codec.Options{}),
		"zstd":   newCodec(t, codec.Options{CompressThreshold: 16}),
		"sealed": newCodec(t, codec.Options{Keys: ring, Seal: true, CompressThreshold: 16}),
	} {
		st := codec.Stamp{AsOf: time.Unix(1_790_000_000, 123), FreshFor: 2 * time.Second, LoadTime: 3 * time.Millisecond}
		for _, v := range []any{decimal.RequireFromString("150.00"), strings.Repeat("long ", 100), []byte{1, 2}, nil} {
			b, err := c.AppendMarshalStamped(nil, "sk", v, st)
			if err != nil {
				t.Fatal(err)
			}
			var got any
			gotSt, stamped, err := c.UnmarshalStamped("sk", b, &got)
			if err != nil || !stamped || !gotSt.AsOf.Equal(st.AsOf) || gotSt.FreshFor != st.FreshFor || gotSt.LoadTime != st.LoadTime || gotSt.Negative {
				t.Fatalf("%s %T: stamp %+v, %v, %v", name, v, gotSt, stamped, err)
			}
			if bs, ok := v.([]byte); ok {
				// Into interface{}, msgpack/v5 decodes bin as a string (see
				// docs/wire-format.md); a []byte destination gets bytes.
				var typed []byte
				if _, _, err := c.UnmarshalStamped("sk", b, &typed); err != nil || string(typed) != string(bs) || got != string(bs) {
					t.Fatalf("%s: bytes came back as %#v / %#v, %v", name, typed, got, err)
				}
			} else if !sameValue(got, v) && !(v == nil && got == nil) {
				t.Fatalf("%s: value %#v, want %#v", name, got, v)
			}
			// A plain Unmarshal reads the value and ignores the stamp.
			var plain any
			if err := c.Unmarshal("sk", b, &plain); err != nil {
				t.Fatalf("%s: plain Unmarshal of a stamped value: %v", name, err)
			}
		}
		neg, _ := c.AppendMarshalStamped(nil, "sk", nil, codec.Stamp{AsOf: time.Now(), Negative: true})
		var v any
		if st, _, err := c.UnmarshalStamped("sk", neg, &v); err != nil || !st.Negative {
			t.Fatalf("%s: negative stamp lost: %+v %v", name, st, err)
		}
		// An unstamped value reads with stamped == false.
		b, _ := c.Marshal("sk", "x")
		var s string
		if _, stamped, err := c.UnmarshalStamped("sk", b, &s); err != nil || stamped || s != "x" {
			t.Fatalf("%s: unstamped value: %v %v %q", name, stamped, err, s)
		}
	}
	bad := []byte{0x10, 0xc7, 0x02, 0x03, 0xff, 0xff}
	var v any
	if err := newCodec(t, codec.Options{}).Unmarshal("", bad, &v); !errors.Is(err, codec.ErrCorrupt) {
		t.Fatalf("bad stamp = %v, want ErrCorrupt", err)
	}
}
