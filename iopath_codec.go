package tradecache

import (
	"context"
	"fmt"

	"github.com/tradecache/tradecache/codec"
)

// encode encodes value for key with n's codec and checks it against
// MaxValueBytes, appending to dst. st, when not nil, stamps the value.
func (p *ioPath) encode(dst []byte, op, key, full string, value any, st *codec.Stamp) ([]byte, error) {
	return p.encodeTagged(dst, op, key, full, value, st, nil)
}

// encodeTagged is encode of a value that carries tags (with their tokens).
func (p *ioPath) encodeTagged(dst []byte, op, key, full string, value any, st *codec.Stamp, tags []codec.Tag) ([]byte, error) {
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
	if st != nil || len(tags) > 0 {
		b, err = p.codec.AppendMarshalTagged(dst, full, value, st, tags)
	} else {
		b, err = p.codec.AppendMarshal(dst, full, value)
	}
	if err != nil {
		return b, &SerializationError{Op: op, Namespace: p.name, Key: key, Type: fmt.Sprintf("%T", value), Encoding: true, Err: err}
	}
	return b, p.tooLarge(op, key, len(b)-len(dst))
}

// decode decodes b, read for key, into dst, and holds it to what has
// invalidated it since it was written: a key whose delete this process
// queued (durable invalidation), or a tag whose token moved. Such a value
// gives errInvalidated, which every read treats as a miss. tagged says the
// value carries tags: it is not kept in the near tier, where a hit could
// not see its tags move. A failure to decode is counted against k and
// returned as a *SerializationError; one to read the tags' tokens as an
// *OpError.
func (p *ioPath) decode(ctx context.Context, k opKind, op, key, full string, b []byte, dst any) (tagged bool, err error) {
	if p.awaitsInvalidation(full) {
		return false, errInvalidated
	}
	var m codec.Meta
	if err := p.codec.UnmarshalMeta(full, b, dst, &m); err != nil {
		serr := &SerializationError{Op: op, Namespace: p.name, Key: key, Type: fmt.Sprintf("%T", dst), Err: err}
		p.failed(k, serr)
		return false, serr
	}
	if m.Tags == nil {
		return false, nil
	}
	ok, err := p.tags.holds(ctx, m.Tags)
	switch {
	case err != nil:
		return true, p.fail(op, key, err)
	case !ok:
		return true, errInvalidated
	}
	return true, nil
}

// decodePlain decodes b into dst with no check of tags or queued
// invalidations: for stream entries, which carry neither. A failure is
// counted against k and returned as a *SerializationError.
func (p *ioPath) decodePlain(k opKind, op, key, full string, b []byte, dst any) error {
	if err := p.codec.Unmarshal(full, b, dst); err != nil {
		serr := &SerializationError{Op: op, Namespace: p.name, Key: key, Type: fmt.Sprintf("%T", dst), Err: err}
		p.failed(k, serr)
		return serr
	}
	return nil
}
