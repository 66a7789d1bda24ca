// Package codec turns Go values into tradecache's versioned byte envelope
// and back. docs/wire-format.md is the specification; testdata/golden holds
// vectors that pin it, and a Python reader in testdata proves that another
// language reads it.
//
// # Envelope, version 1
//
// Every stored value starts with one header byte:
//
//	bits 7-4  format version, 1
//	bit  3    codec: 0 MessagePack, 1 raw bytes (a []byte stored verbatim)
//	bits 2-1  compression: 0 none, 1 zstd, 2 s2 (3 reserved)
//	bit  0    sealed with AES-256-GCM
//
// An unsealed value continues with its payload, compressed when the header
// says so. A sealed one continues with the key id's length (1 byte), the key
// id, a 12-byte nonce and the AES-256-GCM ciphertext of that payload, with
// the header, the key id and the storage key as associated data.
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
//   - ext 16-31 and 1, decimal.Decimal: the coefficient in big-endian two's
//     complement, with the exponent in the type (16 - exponent, for 0 to
//     -15: 150.00 takes 4 bytes) or, for other exponents, as a zigzag
//     varint under type 1. The scale survives: 150.00 is exponent -2,
//     coefficient 15000, and never comes back as 150.
//   - ext 2, time.Time: the instant to the nanosecond, the zone offset and
//     the IANA zone name (one byte for the zones of major venues; a UTC
//     time is a bare 8-byte timestamp). MessagePack's own timestamp (ext -1) keeps only
//     the instant, which is why go-redis/cache and eko/gocache return times
//     in UTC.
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
// # Compression and sealing
//
// Payloads longer than the threshold are compressed with zstd (the
// default: best ratio) or s2 (fastest), and kept compressed only when that
// saves at least 10%. The algorithm is in the header, so values written
// under one setting still read after it changes. Decompression is capped
// (Options.MaxDecodedSize), so a crafted value cannot make a reader
// allocate without bound. Sealing (Options.Seal) encrypts and authenticates
// each value with the keyring's first key; every key in the ring still
// opens values sealed under it, so keys rotate without a flag day.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/vmihailenco/msgpack/v5"
)

// Header layout, exported for tools and other-language readers.
const (
	Version1        = 1
	versionShift    = 4
	flagRaw         = 0x08
	compressionMask = 0x06
	flagSealed      = 0x01
)

// Compression names a compression algorithm.
type Compression string

// The compression algorithms. The zero value means CompressionZstd.
const (
	CompressionNone Compression = "none"
	CompressionZstd Compression = "zstd"
	CompressionS2   Compression = "s2"
)

// compression codes in header bits 2-1.
const (
	codeNone = 0
	codeZstd = 1
	codeS2   = 2
)

// Defaults used for zero Options fields.
const (
	DefaultCompressThreshold = 1024
	// DefaultMaxDecodedSize is the largest a value may be once
	// decompressed: the largest value a Cache stores by default.
	DefaultMaxDecodedSize = 16 << 20 // 16 MiB
	// DefaultMaxExpansion bounds how many times its stored size a value
	// may decompress to (above ExpansionFloor). Market data and trading
	// records compress 3-20 times; a bomb, thousands.
	DefaultMaxExpansion = 256
	// ExpansionFloor is what any value may decompress to, whatever its
	// stored size.
	ExpansionFloor = 64 << 10
	// ValuesPerByte bounds how many msgpack values a payload may hold per
	// byte of the stored value (above ValuesFloor): decoding costs an
	// allocation or more per value, so this keeps a reader's work in
	// proportion to what it read.
	ValuesPerByte = 16
	// ValuesFloor is how many values any payload may hold.
	ValuesFloor = 4096
	// MaxValues is how many values any payload may hold at most, however
	// large: about 64 MiB of decoded empty maps.
	MaxValues = 1 << 20
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
	// ErrType means a well-formed envelope holds a value that does not fit
	// the destination: another type, or nil where a struct or number is
	// wanted (which would otherwise read as a zero value, found and valid).
	ErrType = errors.New("codec: value does not fit the destination type")
	// ErrInvalid means a value decoded, but its type's Validate method
	// refused it (a quote without a symbol, say): it is not served as
	// valid.
	ErrInvalid = errors.New("codec: value refused by its Validate method")
)

// Options configures a Codec. The zero value means the defaults: zstd above
// 1 KiB, a 64 MiB decompression cap, no sealing.
type Options struct {
	// Compression is the algorithm for new values. Zero means zstd.
	Compression Compression
	// CompressThreshold is the payload size in bytes above which values
	// are compressed. Zero means DefaultCompressThreshold; a negative value
	// turns compression off.
	CompressThreshold int
	// MaxDecodedSize caps the size a compressed payload may decode to.
	// Zero means DefaultMaxDecodedSize.
	MaxDecodedSize int
	// MaxExpansion caps how many times its stored size a payload may
	// decode to, above ExpansionFloor. Zero means DefaultMaxExpansion.
	MaxExpansion int
	// Keys opens sealed values, and seals new ones when Seal is set.
	Keys *Keyring
	// Seal encrypts every new value with Keys' first key, and makes
	// Unmarshal refuse values that are not sealed (ErrNotSealed).
	Seal bool
	// Strict makes Unmarshal refuse a map whose keys name no field of the
	// destination struct (ErrType): a value written by a different type.
	// Off by default, since a newer writer that added a field would
	// otherwise break older readers mid-deploy.
	Strict bool
	// Reflective makes the codec ignore MarshalCanonical and
	// UnmarshalCanonical methods and reflect over every value: the
	// reference that generated methods are tested against.
	Reflective bool
}

// Validator is implemented by value types that can tell a decoded value
// that makes sense from one that does not. Unmarshal calls Validate after
// decoding into a destination that implements it, and returns ErrInvalid
// when it fails: a required field missing, a price that is not positive.
type Validator interface {
	Validate() error
}

// Codec encodes and decodes envelopes. It is safe for concurrent use.
type Codec struct {
	compression byte
	threshold   int
	maxDecoded  int
	expansion   int
	keys        *Keyring
	seal        bool
	strict      bool
	reflective  bool
	dec         *zstd.Decoder
}

// New returns a Codec, or an error for options that cannot work.
func New(opts Options) (*Codec, error) {
	if opts.MaxDecodedSize < 0 || opts.MaxExpansion < 0 {
		return nil, fmt.Errorf("codec: MaxDecodedSize and MaxExpansion must not be negative, got %d and %d", opts.MaxDecodedSize, opts.MaxExpansion)
	}
	if opts.Seal && opts.Keys == nil {
		return nil, errors.New("codec: Seal needs Keys")
	}
	c := &Codec{threshold: opts.CompressThreshold, maxDecoded: opts.MaxDecodedSize, keys: opts.Keys, seal: opts.Seal, strict: opts.Strict, reflective: opts.Reflective}
	switch opts.Compression {
	case "", CompressionZstd:
		c.compression = codeZstd
	case CompressionS2:
		c.compression = codeS2
	case CompressionNone:
		c.compression = codeNone
	default:
		return nil, fmt.Errorf("codec: unknown compression %q (want zstd, s2 or none)", opts.Compression)
	}
	if c.threshold == 0 {
		c.threshold = DefaultCompressThreshold
	}
	if c.maxDecoded == 0 {
		c.maxDecoded = DefaultMaxDecodedSize
	}
	c.expansion = opts.MaxExpansion
	if c.expansion == 0 {
		c.expansion = DefaultMaxExpansion
	}
	// DecodeAll writes at most cap(dst)-len(dst) bytes: the output buffer
	// is sized from the bound before decoding, so a frame that lies about
	// its size cannot make it grow.
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(uint64(c.maxDecoded)),
		zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, err
	}
	c.dec = dec
	return c, nil
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
	s.enc.SetSortMapKeys(true) // the same value always makes the same bytes
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
	s.dec.SetMapDecoder(decodeAnyMap)
	return s
}}

// Marshal returns v's envelope in a new slice. storageKey is the key the
// value will be stored under; sealed values are bound to it.
func (c *Codec) Marshal(storageKey string, v any) ([]byte, error) {
	return c.AppendMarshal(nil, storageKey, v)
}

// AppendMarshal appends v's envelope to dst and returns the extended slice.
// On error dst is returned unchanged in length. A []byte value is stored
// verbatim (the raw codec); anything else is MessagePack.
func (c *Codec) AppendMarshal(dst []byte, storageKey string, v any) ([]byte, error) {
	start := len(dst)
	out, err := c.appendPayload(dst, v)
	if err != nil {
		return dst[:start], err
	}
	if out, err = c.finish(out, start, storageKey); err != nil {
		return dst[:start], err
	}
	return out, nil
}

// finish compresses and seals the payload that follows the header at
// out[start], as the Codec's options say.
func (c *Codec) finish(out []byte, start int, storageKey string) ([]byte, error) {
	if payload := out[start+1:]; c.compression != codeNone && c.threshold >= 0 && len(payload) > c.threshold {
		code := c.compression
		var comp []byte
		if code == codeS2 {
			comp = s2.Encode(nil, payload)
		}
		// A payload that shrinks more than a reader's expansion bound
		// allows (1 MiB of repeated text compresses to about 1 KiB) is
		// written as a zstd frame padded with a zstd skippable frame up to
		// the size that bound needs, 1/MaxExpansion of the payload:
		// readers stay bounded per stored byte, and the value is still
		// stored at a fraction of its size rather than raw. s2 blocks
		// cannot be padded, so such a payload goes to zstd, which every
		// reader of s2 also reads.
		if code == codeZstd || c.decodedLimit(1+len(comp)) < len(payload) {
			code = codeZstd
			comp = zstdEncoder().EncodeAll(payload, make([]byte, 0, len(payload)/2))
			comp = padToLimit(comp, len(payload), c.decodedLimit)
		}
		// Keep it only when it saves at least 10% (below that, readers
		// pay decompression for almost nothing), and when a reader's
		// expansion bound allows it: what a codec writes, it reads.
		if len(comp) <= len(payload)-len(payload)/10 && c.decodedLimit(1+len(comp)) >= len(payload) {
			out = append(out[:start+1], comp...)
			out[start] |= code << 1
		}
	}
	if c.seal {
		return c.keys.seal(out, start, storageKey)
	}
	return out, nil
}

func (c *Codec) appendPayload(dst []byte, v any) ([]byte, error) {
	if raw, ok := v.([]byte); ok {
		return append(append(dst, Version1<<versionShift|flagRaw), raw...), nil
	}
	if out, ok := c.appendCanonical(dst, v); ok {
		return out, nil
	}
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
		if prepareType(rv.Type()) {
			prepareValue(p, 0)
		}
		err = s.enc.EncodeValue(p)
	case !rv.IsValid():
		err = s.enc.EncodeNil()
	default:
		// EncodeValue, not Encode, whose shortcut writes a time as ext -1.
		if prepareType(rv.Type()) {
			prepareValue(rv, 0)
		}
		err = s.enc.EncodeValue(rv)
	}
	out := s.buf.b
	s.buf.b = nil
	encPool.Put(s)
	return out, err
}

// Header describes an envelope's first byte.
type Header struct {
	Version     int
	Raw         bool        // the raw-bytes codec rather than MessagePack
	Compression Compression // CompressionNone, CompressionZstd or CompressionS2
	Sealed      bool
}

// ParseHeader reads and checks an envelope's header byte.
func ParseHeader(data []byte) (Header, error) {
	if len(data) == 0 {
		return Header{}, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	b := data[0]
	h := Header{Version: int(b >> versionShift), Raw: b&flagRaw != 0, Sealed: b&flagSealed != 0}
	if h.Version != Version1 {
		return h, fmt.Errorf("%w: version %d (this reader knows version %d)", ErrUnsupported, h.Version, Version1)
	}
	switch (b & compressionMask) >> 1 {
	case codeNone:
		h.Compression = CompressionNone
	case codeZstd:
		h.Compression = CompressionZstd
	case codeS2:
		h.Compression = CompressionS2
	default:
		return h, fmt.Errorf("%w: compression code %d in header 0x%02x", ErrUnsupported, (b&compressionMask)>>1, b)
	}
	return h, nil
}

// Unmarshal decodes an envelope stored under storageKey into v, which must
// be a non-nil pointer. It never panics on bad input: a panic inside a
// decoder (a bug in a third-party type's decoding, say) is returned as
// ErrCorrupt.
func (c *Codec) Unmarshal(storageKey string, data []byte, v any) error {
	return c.unmarshal(storageKey, data, v, nil)
}

func (c *Codec) unmarshal(storageKey string, data []byte, v any, m *Meta) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: decoder panicked: %v", ErrCorrupt, r)
		}
	}()
	if len(data) > 0 && data[0] == Version1<<versionShift && !c.seal && len(data)-1 <= c.maxDecoded {
		// The common envelope, plain MessagePack neither compressed nor
		// sealed, goes straight to the payload: a batch of 100 parses
		// 100 headers.
		return c.decodePayload(data[1:], len(data), v, m)
	}
	h, err := ParseHeader(data)
	if err != nil {
		return err
	}
	payload := data[1:]
	switch {
	case h.Sealed && c.keys == nil:
		return fmt.Errorf("%w: this codec has no keys", ErrUnknownKey)
	case h.Sealed:
		if payload, err = c.keys.open(data[0], payload, storageKey); err != nil {
			return err
		}
	case c.seal:
		return ErrNotSealed
	}
	stored := len(data)
	switch h.Compression {
	case CompressionZstd:
		// The frame declares its size; one that exceeds the bound is
		// refused before anything is allocated, and the output buffer is
		// the declared size (or the bound, for a frame that declares none).
		limit := c.decodedLimit(stored)
		var zh zstd.Header
		if err := zh.Decode(payload); err != nil {
			return fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
		}
		size := limit
		if zh.HasFCS {
			if zh.FrameContentSize > uint64(limit) {
				return fmt.Errorf("%w: zstd frame declares %d bytes, over %d for a %d-byte value", ErrTooLarge, zh.FrameContentSize, limit, stored)
			}
			size = int(zh.FrameContentSize)
		}
		payload, err = c.dec.DecodeAll(payload, make([]byte, 0, size))
		if err != nil {
			if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
				return fmt.Errorf("%w: over %d bytes: %w", ErrTooLarge, size, err)
			}
			return fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
		}
	case CompressionS2:
		n, err := s2.DecodedLen(payload)
		if err != nil {
			return fmt.Errorf("%w: s2: %w", ErrCorrupt, err)
		}
		if limit := c.decodedLimit(stored); n > limit {
			return fmt.Errorf("%w: s2 block declares %d bytes, over %d for a %d-byte value", ErrTooLarge, n, limit, stored)
		}
		if payload, err = s2.Decode(nil, payload); err != nil {
			return fmt.Errorf("%w: s2: %w", ErrCorrupt, err)
		}
	}
	if h.Compression == CompressionNone && len(payload) > c.maxDecoded {
		// Stored uncompressed past the cap (a writer that ignored
		// MaxValueBytes): as large as any value may decode to.
		return fmt.Errorf("%w: %d bytes stored uncompressed, over %d", ErrTooLarge, len(payload), c.maxDecoded)
	}
	if h.Raw {
		return setRaw(payload, v)
	}
	return c.decodePayload(payload, stored, v, m)
}

// decodePayload decodes an uncompressed MessagePack payload, read from a
// stored envelope of stored bytes, into v: its tags and stamp first, then the value,
// by the type's canonical method when it has one, else by reflection.
func (c *Codec) decodePayload(payload []byte, stored int, v any, m *Meta) (err error) {
	if section, inner, ok, err := untag(payload); err != nil {
		return err
	} else if ok {
		payload = inner
		if m != nil {
			m.Tags = section
		}
	}
	if s, inner, ok, err := unstamp(payload); err != nil {
		return err
	} else if ok {
		payload = inner
		if m != nil {
			m.Stamp, m.Stamped = s, true
		}
		if s.Negative {
			// A remembered miss: its payload is nil, and there is no value
			// to decode into v.
			return nil
		}
	}
	if c.unmarshalCanonical(payload, v) {
		if vv, ok := v.(Validator); ok {
			if err := vv.Validate(); err != nil {
				return fmt.Errorf("%w: %w", ErrInvalid, err)
			}
		}
		return nil
	}
	if err := validate(payload, min(MaxValues, max(ValuesFloor, ValuesPerByte*stored))); err != nil {
		return err
	}
	if len(payload) == 1 && payload[0] == 0xc0 && !nilFits(v) {
		return fmt.Errorf("%w: nil into %T", ErrType, v)
	}
	if ap, ok := v.(*any); ok && ap != nil {
		// msgpack decodes into what an interface already holds; a map left
		// by an earlier decode would make it fail (or merge).
		*ap = nil
	}
	// msgpack builds a struct's field encoders when it first meets the
	// struct, decoding too: the canonical map encoders must be in place.
	prepareType(reflect.TypeOf(v))
	s := decPool.Get().(*decState)
	s.r.reset(payload)
	s.dec.DisallowUnknownFields(c.strict)
	if tp, ok := v.(*time.Time); ok && tp != nil {
		// Decode's fast path would bypass the zone-keeping decoder.
		err = s.dec.DecodeValue(reflect.ValueOf(tp).Elem())
	} else {
		err = s.dec.Decode(v)
	}
	if s.r.vectors && err == nil {
		derefVectors(reflect.ValueOf(v), 0)
	}
	s.r.reset(nil)
	decPool.Put(s)
	switch {
	case err == nil:
		if vv, ok := v.(Validator); ok {
			if err := vv.Validate(); err != nil {
				return fmt.Errorf("%w: %w", ErrInvalid, err)
			}
		}
		return nil
	case errors.Is(err, errExt):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	// validate has proved the payload one well-formed value: what fails
	// now is the fit between that value and the destination.
	return fmt.Errorf("%w: %w", ErrType, err)
}

// nilFits reports whether a nil value may decode into v: a pointer, an
// interface, a map or a slice can be nil; a struct, number, string or bool
// decoded from nil would be a zero value that reads as a real one.
func nilFits(v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return true // msgpack reports the bad destination itself
	}
	switch rv.Elem().Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return true
	}
	return false
}

// skippableMagic starts a zstd skippable frame (RFC 8878, 3.1.2): a
// 4-byte magic, a 4-byte little-endian length and that many bytes, which
// every zstd decoder passes over.
const skippableMagic = 0x184D2A50

// padToLimit appends a zeroed skippable frame to the zstd frame comp when
// the envelope holding it (a header byte and comp) would be too small for
// limit to allow decoding n bytes, so that it becomes just large enough.
func padToLimit(comp []byte, n int, limit func(stored int) int) []byte {
	if limit(1+len(comp)) >= n {
		return comp
	}
	// The smallest stored size whose limit reaches n, searched between
	// the frame alone and the raw payload (beyond which padding is moot).
	lo, hi := 1+len(comp)+8, 1+n
	if limit(hi) < n {
		return comp
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if limit(mid) >= n {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	size := lo - 1 - len(comp) - 8
	comp = binary.LittleEndian.AppendUint32(comp, skippableMagic)
	comp = binary.LittleEndian.AppendUint32(comp, uint32(size))
	return append(comp, make([]byte, size)...)
}

// decodedLimit is the most a value stored in n bytes may decompress to:
// MaxExpansion times its size, at least ExpansionFloor, at most
// MaxDecodedSize.
func (c *Codec) decodedLimit(n int) int {
	return min(c.maxDecoded, max(ExpansionFloor, c.expansion*n))
}

// setRaw stores a raw-codec payload into *[]byte, *string or *any. The
// payload may alias the caller's input, so it is copied.
func setRaw(payload []byte, v any) error {
	switch p := v.(type) {
	case *[]byte:
		*p = append([]byte{}, payload...)
	case *string:
		*p = string(payload)
	case *any:
		*p = append([]byte{}, payload...)
	default:
		return fmt.Errorf("%w: raw bytes cannot be decoded into %T (want *[]byte, *string or *any)", ErrCorrupt, v)
	}
	return nil
}
