package codec_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache/codec"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/vectors.json from the encoder")

const goldenPath = "testdata/golden/vectors.json"

// goldenKey is the AES-256 key of the sealed vectors: 32 bytes 0x00..0x1f.
// It is a published test key; never use it for anything else.
var goldenKey = codec.Key{ID: "golden", Secret: func() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()}

// vector is one golden vector as stored in vectors.json.
type vector struct {
	Name        string `json:"name"`
	Description string `json:"description"`       // the Go value, for people
	StorageKey  string `json:"storage_key"`       // bound into sealed values
	Hex         string `json:"hex"`               // the exact envelope
	DecodeOnly  bool   `json:"decode_only"`       // bytes not reproducible: compressed by a library that may change, or sealed with a random nonce
	Canonical   any    `json:"canonical"`         // the decoded value, language-neutral (see canonical)
	Error       string `json:"error,omitempty"`   // for reject vectors: the error class a reader must report
	Options     string `json:"options,omitempty"` // how the encoder was configured
	Stamp       any    `json:"stamp,omitempty"`   // for stamped values: [as-of unix nanoseconds, fresh-for ns, load-time ns, negative]
	Tags        any    `json:"tags,omitempty"`    // for tagged values: [[name, token], ...]
}

type GoldenQuote struct {
	Symbol string          `json:"symbol"`
	Bid    decimal.Decimal `json:"bid"`
	Ask    decimal.Decimal `json:"ask"`
	Last   decimal.Decimal `json:"last"`
	Volume int64           `json:"volume"`
	TS     time.Time       `json:"ts"`
}

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

type goldenCase struct {
	name, desc string
	value      any
	opts       codec.Options
	optsDesc   string
	decodeOnly bool
	stamp      *codec.Stamp // written with AppendMarshalStamped
	tags       []codec.Tag  // written with AppendMarshalTagged
}

func (gc goldenCase) encode(t *testing.T, sk string) ([]byte, error) {
	c := newCodec(t, gc.opts)
	if len(gc.tags) > 0 {
		return c.AppendMarshalTagged(nil, sk, gc.value, gc.stamp, gc.tags)
	}
	if gc.stamp != nil {
		return c.AppendMarshalStamped(nil, sk, gc.value, *gc.stamp)
	}
	return c.Marshal(sk, gc.value)
}

func goldenCases() []goldenCase {
	ny := mustLoc("America/New_York")
	d := decimal.RequireFromString
	ring, err := codec.NewKeyring(goldenKey)
	if err != nil {
		panic(err)
	}
	return []goldenCase{
		{name: "nil", desc: "nil", value: nil},
		{name: "true", desc: "true", value: true},
		{name: "int 42", desc: "42", value: 42},
		{name: "int -1", desc: "-1", value: -1},
		{name: "int 2^40", desc: "int64(1 << 40)", value: int64(1 << 40)},
		{name: "float 1.5", desc: "1.5 (float64)", value: 1.5},
		{name: "string", desc: `"AAPL"`, value: "AAPL"},
		{name: "unicode string", desc: `"Zürich €"`, value: "Zürich €"},
		{name: "raw bytes", desc: "[]byte{0x00, 0x01, 0xc1} (raw codec: stored verbatim)", value: []byte{0, 1, 0xc1}},
		{name: "decimal 150.00", desc: `decimal "150.00"`, value: d("150.00")},
		{name: "decimal -150.00", desc: `decimal "-150.00"`, value: d("-150.00")},
		{name: "decimal -0.0001", desc: `decimal "-0.0001"`, value: d("-0.0001")},
		{name: "decimal 0E-8", desc: `decimal "0E-8" (zero with scale 8)`, value: d("0E-8")},
		{name: "decimal 1E+3", desc: `decimal "1E+3" (coefficient 1, exponent 3)`, value: d("1E+3")},
		{name: "decimal 128", desc: `decimal "128" (coefficient needs a second byte for its sign)`, value: d("128")},
		{name: "decimal 1000000.00", desc: `decimal "1000000.00" (scaled form, 4-byte coefficient)`, value: d("1000000.00")},
		{name: "decimal min int64 scaled", desc: `decimal "-92233720368547758.08" (scaled form, 8-byte coefficient)`, value: d("-92233720368547758.08")},
		{name: "decimal exponent -15", desc: `decimal "0.000000000000001" (the smallest scaled exponent)`, value: d("0.000000000000001")},
		{name: "decimal exponent -16", desc: `decimal "0.0000000000000001" (general form: exponent beyond the scaled types)`, value: d("0.0000000000000001")},
		{name: "decimal big", desc: `decimal "12345678901234567890.123456789" (coefficient over 64 bits)`, value: d("12345678901234567890.123456789")},
		{name: "decimal big negative", desc: `decimal "-12345678901234567890.123456789"`, value: d("-12345678901234567890.123456789")},
		{name: "time UTC", desc: "2026-11-26T14:30:00.123456789Z", value: time.Date(2026, 11, 26, 14, 30, 0, 123456789, time.UTC)},
		{name: "time New York EST", desc: "2026-11-26T09:30:00.000000001 America/New_York (EST, -05:00)", value: time.Date(2026, 11, 26, 9, 30, 0, 1, ny)},
		{name: "time New York EDT", desc: "2026-07-01T09:30:00 America/New_York (EDT, -04:00)", value: time.Date(2026, 7, 1, 9, 30, 0, 0, ny)},
		{name: "time Lisbon", desc: "2026-07-01T09:30:00 Europe/Lisbon (named: not in the zone table)", value: time.Date(2026, 7, 1, 9, 30, 0, 0, mustLoc("Europe/Lisbon"))},
		{name: "time fixed +05:30", desc: `2026-01-02T03:04:05+05:30 in time.FixedZone("", 19800)`, value: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 5*3600+1800))},
		{name: "time before 1970", desc: "1969-07-20T20:17:40Z (wide form)", value: time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC)},
		{name: "time after 2514", desc: "2600-01-01T00:00:00.5Z (wide form)", value: time.Date(2600, 1, 1, 0, 0, 0, 500000000, time.UTC)},
		{name: "decimal 10^18 scaled", desc: `decimal "1000000000000000000" (19 digits that fit in 64 bits: scaled, 8 bytes)`, value: d("1000000000000000000")},
		{name: "decimal -2^63 scaled", desc: `decimal "-9223372036854775808" (the smallest 64-bit coefficient: scaled, 8 bytes)`, value: d("-9223372036854775808")},
		{name: "decimal 2^63 general", desc: `decimal "9223372036854775808" (just over 64 bits: general form, 9 bytes)`, value: d("9223372036854775808")},
		{name: "decimal -2^127 general", desc: `decimal -2^127 (general form, fewest bytes: 16)`, value: d("-170141183460469231731687303715884105728")},
		{name: "time IST abbreviation", desc: `2026-01-02T03:04:05+05:30 in time.FixedZone("IST", 19800) (form 2 carries the abbreviation)`, value: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("IST", 5*3600+1800))},
		{name: "time unnamed offset 0", desc: `2026-01-02T03:04:05Z in time.FixedZone("", 0) (written as UTC)`, value: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 0))},
		{name: "time in map[string]any", desc: `map[string]any{"ts": 2026-11-26T09:30:00.000000001 America/New_York} (the zone kept inside any)`, value: map[string]any{"ts": time.Date(2026, 11, 26, 9, 30, 0, 1, ny)}},
		{name: "typed map sorted", desc: `map[int]string{10: "x", -2: "y", 3: "z"} (keys in order: integers by value)`, value: map[int]string{10: "x", -2: "y", 3: "z"}},
		{name: "string keys sorted", desc: `map[string]int{"b": 1, "aa": 2, "é": 3, "B": 4} (strings by their UTF-8 bytes)`, value: map[string]int{"b": 1, "aa": 2, "é": 3, "B": 4}},
		{name: "nesting 64", desc: "64 arrays nested, around nil (the deepest a reader accepts)", value: nested(64)},
		{name: "quote", desc: "GoldenQuote{AAPL, bid 150.00, ask 150.02, last 150.01, volume 1200, ts 2026-11-26T14:30:00.123456789Z}",
			value: GoldenQuote{Symbol: "AAPL", Bid: d("150.00"), Ask: d("150.02"), Last: d("150.01"), Volume: 1200, TS: time.Date(2026, 11, 26, 14, 30, 0, 123456789, time.UTC)}},
		{name: "map and list", desc: `map[string]any{"positions": []any{"AAPL", decimal "-100"}, "pnl": decimal "1234.50"}`,
			value: map[string]any{"positions": []any{"AAPL", d("-100")}, "pnl": d("1234.50")}},
		{name: "stamped", desc: `decimal "150.00" stamped: loaded at 2026-11-26T14:30:00Z, fresh for 2s, load took 1.5ms`, value: d("150.00"),
			stamp: &codec.Stamp{AsOf: time.Date(2026, 11, 26, 14, 30, 0, 0, time.UTC), FreshFor: 2 * time.Second, LoadTime: 1500 * time.Microsecond}},
		{name: "vector32", desc: "codec.Vector32{1.5, -2.25, 0, 3.4028235e38}: extension 5, four bytes an element, little-endian",
			value: codec.Vector32{1.5, -2.25, 0, 3.4028235e38}},
		{name: "vector64", desc: "codec.Vector64{3.141592653589793, -1e-300}: extension 6, eight bytes an element, little-endian",
			value: codec.Vector64{3.141592653589793, -1e-300}},
		{name: "features", desc: `map{"entity": "AAPL", "emb": codec.Vector32{0.25, -0.5}}: a vector inside a map`,
			value: map[string]any{"entity": "AAPL", "emb": codec.Vector32{0.25, -0.5}}},
		{name: "tagged", desc: `decimal "150.00" carrying tags "sym:AAPL" (token "k7Jq2") and "refdata" (token "0123456789abcdef")`, value: d("150.00"),
			tags: []codec.Tag{{Name: "sym:AAPL", Token: "k7Jq2"}, {Name: "refdata", Token: "0123456789abcdef"}}},
		{name: "tagged stamped", desc: `"x" stamped (loaded at 2026-11-26T14:30:00Z, fresh for 2s) and tagged "model:v3" (token "t1")`, value: "x",
			stamp: &codec.Stamp{AsOf: time.Date(2026, 11, 26, 14, 30, 0, 0, time.UTC), FreshFor: 2 * time.Second}, tags: []codec.Tag{{Name: "model:v3", Token: "t1"}}},
		{name: "stamped negative", desc: "nil stamped as a remembered miss: loaded at 2026-11-26T14:30:00Z, fresh for 30s", value: nil,
			stamp: &codec.Stamp{AsOf: time.Date(2026, 11, 26, 14, 30, 0, 0, time.UTC), FreshFor: 30 * time.Second, Negative: true}},
		{name: "zstd", desc: `strings.Repeat("AAPL 150.00;", 200)`, value: strings.Repeat("AAPL 150.00;", 200),
			opts: codec.Options{Compression: codec.CompressionZstd, CompressThreshold: 64}, optsDesc: "zstd above 64 bytes", decodeOnly: true},
		{name: "zstd padded", desc: `strings.Repeat("trading ", 1<<15) (256 KiB that zstd shrinks about 1000 times: the frame is followed by a zstd skippable frame that pads the envelope to 1/256 of the payload, the reader's expansion bound)`,
			value: strings.Repeat("trading ", 1<<15), opts: codec.Options{Compression: codec.CompressionZstd}, optsDesc: "zstd above 1024 bytes", decodeOnly: true},
		{name: "s2", desc: `strings.Repeat("AAPL 150.00;", 200)`, value: strings.Repeat("AAPL 150.00;", 200),
			opts: codec.Options{Compression: codec.CompressionS2, CompressThreshold: 64}, optsDesc: "s2 above 64 bytes (Go-only)", decodeOnly: true},
		{name: "sealed", desc: `"session-secret" sealed with key "golden" (bytes 0x00..0x1f), storage key "trading:session:s1"`, value: "session-secret",
			opts: codec.Options{Keys: ring, Seal: true}, optsDesc: "sealed with key id golden", decodeOnly: true},
	}
}

// nested is levels arrays, one inside the other, around nil.
func nested(levels int) any {
	var v any
	for range levels {
		v = []any{v}
	}
	return v
}

// rejectVectors are envelopes every reader must refuse, with the class of
// error it must report.
var rejectVectors = []vector{
	{Name: "empty", Hex: "", Error: "corrupt"},
	{Name: "version 2", Hex: "20a141", Error: "unsupported"},
	{Name: "compression code 3", Hex: "16a141", Error: "unsupported"},
	{Name: "truncated string", Hex: "10a441", Error: "corrupt"},
	{Name: "trailing byte", Hex: "10a141c0", Error: "corrupt"},
	{Name: "huge array header", Hex: "10ddffffffff", Error: "corrupt"},
	{Name: "bad time form", Hex: "10d70203000000000000000000", Error: "corrupt"},
	{Name: "nesting 65", Hex: "10" + strings.Repeat("91", 65) + "c0", Error: "corrupt"},
	{Name: "scaled decimal of 17 bytes", Hex: "10c71112" + strings.Repeat("01", 17), Error: "corrupt"},
	{Name: "general decimal exponent over 32 bits", Hex: "10c70701" + "8080808020" + "01", Error: "corrupt"},
	{Name: "time offset out of range", Hex: "10c70b0201" + "000000006b084268" + "80a30a", Error: "corrupt"},
	{Name: "time nanoseconds out of range", Hex: "10c70d0204" + "3b9aca00" + "0000000000000001", Error: "corrupt"},
	{Name: "zone name not UTF-8", Hex: "10c70d0202" + "000000006b084268" + "00" + "ff", Error: "corrupt"},
	{Name: "unknown extension", Hex: "10d40700", Error: "corrupt"},
	// Tagged values: ext 4 of count, then (length, name, length, token)
	// pairs, then the value. A tag section out of bounds, a tagged value
	// without a value, and one inside another are corrupt.
	{Name: "vector32 of 7 bytes", Hex: "10c70705" + "01020304050607", Error: "corrupt"},
	{Name: "vector64 of 12 bytes", Hex: "10c70c06" + "010203040506070801020304", Error: "corrupt"},
	{Name: "tagged, no tags", Hex: "10c7020400c0", Error: "corrupt"},
	{Name: "tagged, empty token", Hex: "10c705040101610" + "0c0", Error: "corrupt"},
	{Name: "tagged, token over 64 bytes", Hex: "10c74604010161" + "41" + strings.Repeat("30", 65) + "c0", Error: "corrupt"},
	{Name: "tagged, no value", Hex: "10c70504010161" + "0130", Error: "corrupt"},
	{Name: "tagged, inside a tagged value", Hex: "10c70e0401016101" + "30" + "c706040101610130c0", Error: "corrupt"},
	{Name: "tagged, inside a structure", Hex: "1091c70604010161" + "0130c0", Error: "corrupt"},
	{Name: "sealed, unknown key", Hex: "1103626164" + strings.Repeat("00", 12+16), Error: "unknown_key"},
	{Name: "sealed, truncated", Hex: "1106676f6c64656e" + strings.Repeat("00", 12), Error: "tampered"},
}

// canonical renders a decoded value in the language-neutral form the
// golden file and the Python reader share: decimals as
// {"$decimal": [coefficient, exponent]}, times as
// {"$time": [unix seconds, nanoseconds, offset seconds, zone name]}, bytes
// as {"$bytes": base64}; maps with sorted keys.
func canonical(v any) any {
	switch x := v.(type) {
	case nil, bool, string:
		return x
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case int8, int16, int32, int, uint8, uint16, uint32, uint:
		return float64(reflect.ValueOf(x).Convert(reflect.TypeOf(int64(0))).Int())
	case float32:
		return float64(x)
	case float64:
		return x
	case []byte:
		return map[string]any{"$bytes": base64.StdEncoding.EncodeToString(x)}
	case codec.Vector32:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = float64(f)
		}
		return map[string]any{"$vector32": out}
	case codec.Vector64:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = f
		}
		return map[string]any{"$vector64": out}
	case decimal.Decimal:
		return map[string]any{"$decimal": []any{x.Coefficient().String(), float64(x.Exponent())}}
	case time.Time:
		_, off := x.Zone()
		zone := x.Location().String()
		if x.Location() == time.UTC {
			zone = ""
		}
		return map[string]any{"$time": []any{float64(x.Unix()), float64(x.Nanosecond()), float64(off), zone}}
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = canonical(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonical(e)
		}
		return out
	case map[any]any:
		// Keys that are not all strings: {"$map": [[key, value], ...]}, in
		// the order the spec sorts them (integers by value here).
		pairs := make([]any, 0, len(x))
		for k, e := range x {
			pairs = append(pairs, []any{canonical(k), canonical(e)})
		}
		sort.Slice(pairs, func(i, j int) bool {
			a, b := pairs[i].([]any)[0], pairs[j].([]any)[0]
			fa, oka := a.(float64)
			fb, okb := b.(float64)
			if oka && okb {
				return fa < fb
			}
			return fmt.Sprint(a) < fmt.Sprint(b)
		})
		return map[string]any{"$map": pairs}
	}
	panic(fmt.Sprintf("canonical: unexpected %T", v))
}

// normalize passes a canonical value through JSON, as the file stores it.
func normalize(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func readGolden(t *testing.T) []vector {
	b, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test ./codec -run Golden -update to create it)", err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

func goldenKeyring(t *testing.T) *codec.Keyring {
	ring, err := codec.NewKeyring(goldenKey)
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

func TestGoldenVectors(t *testing.T) {
	cases := goldenCases()
	if *update {
		var vs []vector
		for _, gc := range cases {
			sk := ""
			if gc.opts.Seal {
				sk = "trading:session:s1"
			}
			b, err := gc.encode(t, sk)
			if err != nil {
				t.Fatal(err)
			}
			var back any
			if err := newCodec(t, codec.Options{Keys: goldenKeyring(t)}).Unmarshal(sk, b, &back); err != nil {
				t.Fatal(err)
			}
			vec := vector{Name: gc.name, Description: gc.desc, StorageKey: sk, Hex: hex.EncodeToString(b),
				DecodeOnly: gc.decodeOnly, Canonical: canonical(back), Options: gc.optsDesc}
			if st := gc.stamp; st != nil {
				vec.Stamp = []any{st.AsOf.UnixNano(), int64(st.FreshFor), int64(st.LoadTime), st.Negative}
			}
			if len(gc.tags) > 0 {
				var tags [][2]string
				for _, tg := range gc.tags {
					tags = append(tags, [2]string{tg.Name, tg.Token})
				}
				vec.Tags = tags
			}
			vs = append(vs, vec)
		}
		vs = append(vs, rejectVectors...)
		out, _ := json.MarshalIndent(vs, "", "  ")
		if err := os.MkdirAll("testdata/golden", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vs := readGolden(t)
	byName := map[string]vector{}
	for _, v := range vs {
		byName[v.Name] = v
	}
	reader := newCodec(t, codec.Options{Keys: goldenKeyring(t)})
	for _, gc := range cases {
		t.Run(gc.name, func(t *testing.T) {
			v, ok := byName[gc.name]
			if !ok {
				t.Fatalf("no vector %q in %s", gc.name, goldenPath)
			}
			want, _ := hex.DecodeString(v.Hex)
			// Encoder → exact bytes.
			if !v.DecodeOnly {
				got, err := gc.encode(t, v.StorageKey)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("encoder bytes changed: a format change needs a new version\n got %x\nwant %x", got, want)
				}
			}
			// Bytes → exact value, into interface{} and into the Go type.
			var back any
			if err := reader.Unmarshal(v.StorageKey, want, &back); err != nil {
				t.Fatal(err)
			}
			if got := normalize(t, canonical(back)); !reflect.DeepEqual(got, v.Canonical) {
				t.Fatalf("decoded %v, golden canonical %v", got, v.Canonical)
			}
			if gc.stamp != nil {
				st, stamped, err := reader.UnmarshalStamped(v.StorageKey, want, new(any))
				if err != nil || !stamped || st.AsOf.UnixNano() != gc.stamp.AsOf.UnixNano() || st.FreshFor != gc.stamp.FreshFor ||
					st.LoadTime != gc.stamp.LoadTime || st.Negative != gc.stamp.Negative {
					t.Fatalf("stamp = %+v, %v, %v; want %+v", st, stamped, err, *gc.stamp)
				}
			}
			var m codec.Meta
			if err := reader.UnmarshalMeta(v.StorageKey, want, new(any), &m); err != nil || !reflect.DeepEqual(codec.Tags(m.Tags), gc.tags) {
				t.Fatalf("tags = %v, %v; want %v", codec.Tags(m.Tags), err, gc.tags)
			}
			if gc.value != nil {
				typed := reflect.New(reflect.TypeOf(gc.value))
				if err := reader.Unmarshal(v.StorageKey, want, typed.Interface()); err != nil {
					t.Fatal(err)
				}
				if !sameValue(typed.Elem().Interface(), gc.value) {
					t.Fatalf("typed decode = %#v, want %#v", typed.Elem().Interface(), gc.value)
				}
			}
		})
	}
	for _, rv := range rejectVectors {
		t.Run("reject "+rv.Name, func(t *testing.T) {
			b, _ := hex.DecodeString(byName[rv.Name].Hex)
			var out any
			err := reader.Unmarshal("trading:session:s1", b, &out)
			if err == nil || errorClass(err) != rv.Error {
				t.Fatalf("Unmarshal = %v (class %q), want class %q", err, errorClass(err), rv.Error)
			}
		})
	}
}

// errorClass maps codec errors onto the classes the golden file uses.
func errorClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, codec.ErrUnsupported):
		return "unsupported"
	case errors.Is(err, codec.ErrUnknownKey):
		return "unknown_key"
	case errors.Is(err, codec.ErrTampered):
		return "tampered"
	case errors.Is(err, codec.ErrTooLarge):
		return "too_large"
	case errors.Is(err, codec.ErrCorrupt):
		return "corrupt"
	}
	return "other: " + err.Error()
}

func sameValue(a, b any) bool {
	switch x := b.(type) {
	case decimal.Decimal:
		y := a.(decimal.Decimal)
		return y.Exponent() == x.Exponent() && y.Coefficient().Cmp(x.Coefficient()) == 0
	case time.Time:
		y := a.(time.Time)
		_, o1 := x.Zone()
		_, o2 := y.Zone()
		return x.Equal(y) && o1 == o2
	case GoldenQuote:
		y := a.(GoldenQuote)
		return x.Symbol == y.Symbol && sameValue(y.Bid, x.Bid) && sameValue(y.Ask, x.Ask) && sameValue(y.Last, x.Last) &&
			x.Volume == y.Volume && sameValue(y.TS, x.TS)
	case map[string]any:
		return reflect.DeepEqual(canonical(a), canonical(b))
	}
	return reflect.DeepEqual(a, b)
}
