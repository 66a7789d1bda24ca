package tradecache

import (
	"context"
	"fmt"
	"strings"

	"github.com/tradecache/tradecache/codec"
)

// SetOption adjusts one Set.
type SetOption func(*setOpts)

type setOpts struct {
	tags []string
	asOf *TagTokens
}

// Tagged tags the value written: InvalidateTag of any of the tags makes
// it absent, on every instance. The tags' tokens are read when the value
// is written; for a value computed from data that an invalidation may
// change meanwhile, read them before computing with Cache.TagTokens and
// write with TaggedAsOf, or use GetOrLoad with WithTags, which does so.
func Tagged(tags ...string) SetOption {
	return func(o *setOpts) { o.tags = append(o.tags, tags...) }
}

// TaggedAsOf tags the value written with the tokens read by
// Cache.TagTokens before it was computed: if any of the tags was
// invalidated since, the value is stored but reads as absent.
func TaggedAsOf(t TagTokens) SetOption {
	return func(o *setOpts) { o.asOf = &t }
}

// TagTokens is the state of some tags at one moment, from Cache.TagTokens.
type TagTokens struct {
	tags []codec.Tag
}

// Tags returns the tags, in the order they were asked for.
func (t TagTokens) Tags() []string {
	out := make([]string, len(t.tags))
	for i, tg := range t.tags {
		out[i] = tg.Name
	}
	return out
}

// String is t as text, "tag token tag token ...", for carrying it where
// only a string goes (a job's payload, another process); ParseTagTokens
// reads it back. Tags and tokens hold no spaces.
func (t TagTokens) String() string {
	var b strings.Builder
	for i, tg := range t.tags {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(tg.Name)
		b.WriteByte(' ')
		b.WriteString(tg.Token)
	}
	return b.String()
}

// ParseTagTokens reads what TagTokens.String wrote. Text of any other
// shape, or outside the tags' bounds, is an error.
func ParseTagTokens(s string) (TagTokens, error) {
	f := strings.Fields(s)
	if len(f)%2 != 0 || len(f)/2 > codec.MaxTags {
		return TagTokens{}, fmt.Errorf("tradecache: tag tokens %q: want at most %d pairs of tag and token", s, codec.MaxTags)
	}
	t := TagTokens{tags: make([]codec.Tag, len(f)/2)}
	for i := range t.tags {
		name, tok := f[2*i], f[2*i+1]
		if reason := checkKey(name, codec.MaxTagBytes); reason != "" {
			return TagTokens{}, fmt.Errorf("tradecache: tag tokens: tag %q: %s", name, reason)
		}
		if len(tok) > codec.MaxTokenBytes {
			return TagTokens{}, fmt.Errorf("tradecache: tag tokens: token of %q longer than %d bytes", name, codec.MaxTokenBytes)
		}
		t.tags[i] = codec.Tag{Name: name, Token: tok}
	}
	return t, nil
}

// Token returns tag's token in t, or "" when t does not hold tag.
func (t TagTokens) Token(tag string) string {
	for _, tg := range t.tags {
		if tg.Name == tag {
			return tg.Token
		}
	}
	return ""
}

// TagTokens reads the current tokens of tags (creating those that have
// none), before a value is computed: a value written with TaggedAsOf of
// them is absent if any tag is invalidated in between.
func (c *Cache) TagTokens(ctx context.Context, tags ...string) (TagTokens, error) {
	const op = "tag_tokens"
	if c.closed.Load() {
		return TagTokens{}, &OpError{Op: op, Err: errClosed}
	}
	if err := c.checkTags(op, tags); err != nil {
		return TagTokens{}, err
	}
	toks, err := c.tags.capture(ctx, tags)
	if err != nil {
		return TagTokens{}, &OpError{Op: op, Err: err}
	}
	return TagTokens{toks}, nil
}

// InvalidateTag makes every value that carries any of tags absent, in
// every namespace and on every instance, with one write per tag (no scan
// and no cross-slot command: each tag's token is a key of its own). A
// value computed before the call and stored after it is absent too: it
// carries the token it was computed under.
//
// Other instances see it as soon as their tracked copy of the token is
// invalidated (a near tier's visibility bound); this one at once. When
// the store cannot be reached, the invalidation is queued and applied
// when it answers again (durable invalidation): this process treats the
// tags' values as absent meanwhile, fail-safe included, and the call
// returns nil, unless the queue is full (ErrInvalidationQueueFull).
func (c *Cache) InvalidateTag(ctx context.Context, tags ...string) error {
	const op = "invalidate_tag"
	if c.closed.Load() {
		return &OpError{Op: op, Err: errClosed}
	}
	if err := c.checkTags(op, tags); err != nil {
		return err
	}
	if len(tags) == 0 {
		return nil
	}
	err := c.tags.invalidate(ctx, tags)
	if err == nil {
		return nil
	}
	if !queueable(err) {
		return &OpError{Op: op, Err: err}
	}
	now := c.now()
	full := 0
	for _, tag := range tags {
		c.tags.invalidated(tag, false)
		if c.inval.add(invalTag, tag, 0, now) != nil {
			full++
		}
	}
	if full > 0 {
		return &OpError{Op: op, Err: fmt.Errorf("%w: %d tags not kept for when the store answers again: %w", ErrInvalidationQueueFull, full, err)}
	}
	c.obs.warnLimited("tradecache: the store is unreachable: tag invalidations queued, applied when it answers again", "tags", len(tags), "error", err)
	return nil
}

// checkTags validates tags: the key rules, at most codec.MaxTagBytes
// each and codec.MaxTags in all.
func (c *Cache) checkTags(op string, tags []string) error {
	if len(tags) > codec.MaxTags {
		return invalidArg(op, "", "", "%d tags, over %d", len(tags), codec.MaxTags)
	}
	for _, t := range tags {
		if reason := checkKey(t, codec.MaxTagBytes); reason != "" {
			return invalidArg(op, "", "", "tag %q: %s", t, reason)
		}
	}
	return nil
}

// tagsFor returns the tags and tokens a Set writes with opts.
func (n *Namespace) tagsFor(ctx context.Context, op, key string, opts []SetOption) ([]codec.Tag, error) {
	var o setOpts
	for _, opt := range opts {
		opt(&o)
	}
	var tags []codec.Tag
	if o.asOf != nil {
		tags = append(tags, o.asOf.tags...)
	}
	if len(o.tags) > 0 {
		if err := n.c.checkTags(op, o.tags); err != nil {
			return nil, err
		}
		toks, err := n.tags.capture(ctx, o.tags)
		if err != nil {
			return nil, n.fail(op, key, err)
		}
		tags = append(tags, toks...)
	}
	if len(tags) > codec.MaxTags {
		return nil, invalidArg(op, n.name, key, "%d tags, over %d", len(tags), codec.MaxTags)
	}
	return tags, nil
}
