// Package codec turns Go values into tradecache's versioned byte envelope
// and back.
//
// # Envelope, version 1
//
// Every stored value is one header byte followed by a payload:
//
//	byte 0, high nibble   format version, 1 for this format
//	byte 0, bits 0-1      compression: 0 none, 1 zstd (2, 3 reserved)
//	byte 0, bit 2         sealed (encrypted); reserved, rejected by version 1
//	byte 0, bit 3         reserved, must be 0
//	bytes 1..             MessagePack, zstd-compressed when bits 0-1 say so
//
// A reader that meets a version or flag it does not know returns an error
// matching ErrUnsupported. It never guesses. Later formats get a new version
// number, so old and new values can be read side by side during a rollout.
//
// # Types
//
// The payload is MessagePack (github.com/vmihailenco/msgpack/v5). Structs
// are maps keyed by field name, following the `msgpack` tag and then the
// `json` tag. Two extension types carry what MessagePack's own types lose:
//
//   - ext 1, decimal.Decimal: the ASCII decimal string with its scale, such as
//     "150.00" or "0.00000000" (exponent -8), or "15E3" when the exponent is
//     positive. Python's decimal.Decimal reads every one of these forms and
//     keeps the same scale; "150.00" never comes back as "150".
//   - ext 2, time.Time: big-endian int64 Unix seconds, uint32 nanoseconds,
//     int32 zone offset in seconds, then the IANA zone name (may be empty).
//     A reader restores the named zone when it knows it and the offset
//     agrees, and otherwise a fixed zone with the offset, so the instant and
//     the offset always survive. MessagePack's own timestamp (ext -1) keeps
//     only the instant, which is why go-redis/cache and eko/gocache return
//     times in UTC.
//
// # Process-wide registration
//
// msgpack/v5 keeps its type registry in globals, so importing this package
// registers encoders for decimal.Decimal and time.Time there. They are
// scoped: they emit ext 1 and ext 2 only when writing a tradecache envelope,
// and behave exactly as msgpack's defaults do (BinaryMarshaler for decimals,
// ext -1 for times) for any other msgpack use in the process. Decoding
// accepts both forms everywhere.
//
// # Compression
//
// Payloads longer than the threshold are compressed with zstd
// (github.com/klauspost/compress), and kept compressed only when that makes
// them smaller. Decompression is capped (Options.MaxDecodedSize), so a
// crafted value cannot make a reader allocate without bound.
package codec

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/vmihailenco/msgpack/v5"
)

// Header layout, exported for tools and other-language readers.
const (
	Version1        = 1
	versionShift    = 4
	compressionMask = 0x03
	CompressionNone = 0
	CompressionZstd = 1
	FlagSealed      = 0x04
	flagReserved    = 0x08
)

// Defaults used for zero Options fields.
const (
	DefaultCompressThreshold = 1024
	DefaultMaxDecodedSize    = 64 << 20 // 64 MiB
)

var (
	// ErrUnsupported means the envelope names a version, compression or
	// flag this reader does not implement.
	ErrUnsupported = errors.New("codec: unsupported envelope")
	// ErrCorrupt means the bytes are not a valid envelope: empty, truncated,
	// trailing garbage, or a payload that does not decode.
	ErrCorrupt = errors.New("codec: corrupt envelope")
	// ErrTooLarge means a compressed payload would decode to more than
	// Options.MaxDecodedSize bytes.
	ErrTooLarge = errors.New("codec: decoded value too large")
)

// Options configures a Codec. The zero value means the defaults.
type Options struct {
	// CompressThreshold is the payload size in bytes above which values
	// are compressed. Zero means DefaultCompressThreshold; a negative value
	// turns compression off.
	CompressThreshold int
	// MaxDecodedSize caps the size a compressed payload may decode to.
	// Zero means DefaultMaxDecodedSize.
	MaxDecodedSize int
}

// Codec encodes and decodes envelopes. It is safe for concurrent use.
type Codec struct {
	threshold  int
	maxDecoded int
	dec        *zstd.Decoder
}

// New returns a Codec. It rejects a negative MaxDecodedSize.
func New(opts Options) (*Codec, error) {
	if opts.MaxDecodedSize < 0 {
		return nil, fmt.Errorf("codec: MaxDecodedSize must not be negative, got %d", opts.MaxDecodedSize)
	}
	if opts.CompressThreshold == 0 {
		opts.CompressThreshold = DefaultCompressThreshold
	}
	if opts.MaxDecodedSize == 0 {
		opts.MaxDecodedSize = DefaultMaxDecodedSize
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(uint64(opts.MaxDecodedSize)),
		zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, err
	}
	return &Codec{threshold: opts.CompressThreshold, maxDecoded: opts.MaxDecodedSize, dec: dec}, nil
}

// zstdEncoder is shared by every Codec: EncodeAll is safe for concurrent
// use and the encoder holds sizeable tables.
var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderCRC(false))
	if err != nil {
		panic(err) // only fails on invalid options, which are constant here
	}
	return e
})

// envBuf is the writer the msgpack encoder writes envelopes into. Its type
// is how the scoped decimal and time encoders know they are writing a
// tradecache envelope (see the package doc).
type envBuf struct{ b []byte }

func (w *envBuf) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
func (w *envBuf) WriteByte(c byte) error      { w.b = append(w.b, c); return nil }
func (w *envBuf) WriteString(s string) (int, error) {
	w.b = append(w.b, s...)
	return len(s), nil
}

type encState struct {
	buf envBuf
	enc *msgpack.Encoder
}

var encPool = sync.Pool{New: func() any {
	s := &encState{}
	s.enc = msgpack.NewEncoder(&s.buf)
	s.enc.SetCustomStructTag("json")
	s.enc.UseCompactInts(true)
	return s
}}

type decState struct {
	r   payloadReader
	dec *msgpack.Decoder
}

var decPool = sync.Pool{New: func() any {
	s := &decState{}
	s.dec = msgpack.NewDecoder(&s.r)
	s.dec.SetCustomStructTag("json")
	s.dec.UseLooseInterfaceDecoding(true)
	return s
}}

// Marshal returns v's envelope in a new slice.
func (c *Codec) Marshal(v any) ([]byte, error) {
	return c.AppendMarshal(nil, v)
}

// AppendMarshal appends v's envelope to dst and returns the extended slice.
// On error dst is returned unchanged in length.
func (c *Codec) AppendMarshal(dst []byte, v any) ([]byte, error) {
	start := len(dst)
	s := encPool.Get().(*encState)
	s.buf.b = append(dst, Version1<<versionShift)
	var err error
	switch rv := reflect.ValueOf(v); {
	case rv.Kind() == reflect.Struct:
		// Encode's fast path would bypass the zone-keeping time encoder,
		// and a struct reached through an interface is not addressable, so
		// each decimal and time field would be copied to the heap to be
		// read. One addressable copy of the whole struct is cheaper.
		p := reflect.New(rv.Type()).Elem()
		p.Set(rv)
		err = s.enc.EncodeValue(p)
	default:
		err = s.enc.Encode(v)
	}
	out := s.buf.b
	s.buf.b = nil
	encPool.Put(s)
	if err != nil {
		return dst[:start], err
	}
	payload := out[start+1:]
	if c.threshold >= 0 && len(payload) > c.threshold {
		comp := zstdEncoder().EncodeAll(payload, make([]byte, 0, len(payload)/2))
		if len(comp) < len(payload) {
			out = append(out[:start+1], comp...)
			out[start] |= CompressionZstd
		}
	}
	return out, nil
}

// Header describes an envelope's first byte.
type Header struct {
	Version     int
	Compression int
	Sealed      bool
}

// ParseHeader reads and checks an envelope's header byte.
func ParseHeader(data []byte) (Header, error) {
	if len(data) == 0 {
		return Header{}, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	b := data[0]
	h := Header{Version: int(b >> versionShift), Compression: int(b & compressionMask), Sealed: b&FlagSealed != 0}
	switch {
	case h.Version != Version1:
		return h, fmt.Errorf("%w: version %d (this reader knows version %d)", ErrUnsupported, h.Version, Version1)
	case h.Compression > CompressionZstd:
		return h, fmt.Errorf("%w: compression %d", ErrUnsupported, h.Compression)
	case h.Sealed:
		return h, fmt.Errorf("%w: sealed envelopes need a key this codec does not have", ErrUnsupported)
	case b&flagReserved != 0:
		return h, fmt.Errorf("%w: reserved flag set in header 0x%02x", ErrUnsupported, b)
	}
	return h, nil
}

// Unmarshal decodes an envelope into v, which must be a non-nil pointer.
// It never panics on bad input: a panic inside a decoder (a bug in a
// third-party type's decoding, say) is returned as ErrCorrupt.
func (c *Codec) Unmarshal(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: decoder panicked: %v", ErrCorrupt, r)
		}
	}()
	h, err := ParseHeader(data)
	if err != nil {
		return err
	}
	payload := data[1:]
	if h.Compression == CompressionZstd {
		payload, err = c.dec.DecodeAll(payload, nil)
		if err != nil {
			if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
				return fmt.Errorf("%w: over %d bytes: %w", ErrTooLarge, c.maxDecoded, err)
			}
			return fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
		}
	}
	if err := validate(payload); err != nil {
		return err
	}
	s := decPool.Get().(*decState)
	s.r.reset(payload)
	if tp, ok := v.(*time.Time); ok && tp != nil {
		// Decode's fast path would bypass the zone-keeping decoder.
		err = s.dec.DecodeValue(reflect.ValueOf(tp).Elem())
	} else {
		err = s.dec.Decode(v)
	}
	s.r.reset(nil)
	decPool.Put(s)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return nil
}
