package tradecache

import (
	"fmt"

	"github.com/tradecache/tradecache/codec"
)

// encode encodes value for key with n's codec and checks it against
// MaxValueBytes, appending to dst. st, when not nil, stamps the value.
func (p *ioPath) encode(dst []byte, op, key, full string, value any, st *codec.Stamp) ([]byte, error) {
	// What a reader refuses (codec.Validator, run on every decode), a
	// writer refuses first: a value that would read back as invalid is an
	// error here, and nothing is written. Every write path (Set, SetMany,
	// SetIfNewer, Publish, PublishMany, get-or-load's store) encodes here.
	if v, ok := value.(codec.Validator); ok {
		if err := v.Validate(); err != nil {
			return dst, invalidArg(op, p.name, key, "the value would be refused when read back: %w", err)
		}
	}
	var (
		b   []byte
		err error
	)
	if st != nil {
		b, err = p.codec.AppendMarshalStamped(dst, full, value, *st)
	} else {
		b, err = p.codec.AppendMarshal(dst, full, value)
	}
	if err != nil {
		return b, &SerializationError{Op: op, Namespace: p.name, Key: key, Type: fmt.Sprintf("%T", value), Encoding: true, Err: err}
	}
	return b, p.tooLarge(op, key, len(b)-len(dst))
}

// decode decodes b, read for key, into dst; a failure is counted against
// k and returned as a *SerializationError.
func (p *ioPath) decode(k opKind, op, key, full string, b []byte, dst any) error {
	if err := p.codec.Unmarshal(full, b, dst); err != nil {
		serr := &SerializationError{Op: op, Namespace: p.name, Key: key, Type: fmt.Sprintf("%T", dst), Err: err}
		p.failed(k, serr)
		return serr
	}
	return nil
}
