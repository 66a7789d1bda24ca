package tradecache

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/near"
	"github.com/tradecache/tradecache/store"
)

// How tags work. A tag has a token in the store, under
// "<KeyPrefix>:#tag:<tag>" ('#' is not a namespace character, so no
// namespace's key is ever a tag key, and each tag key hashes to a slot of
// its own: nothing here is a cross-slot command). A tagged value carries,
// in its envelope (codec.ExtTagged), each tag's token as it stood before
// the value was computed. InvalidateTag gives the tag a new token in one
// write; from then on every value carrying the old one reads as absent, on
// every instance, and the values themselves age out. A value computed
// before the invalidation and stored after it carries the old token, so
// it is not current either: that is the race a plain "delete by tag"
// cannot win.
//
// A tag key that is missing (expired after tagTTL, evicted, or lost with
// a server that restarted empty) makes every value carrying the tag
// absent: a value is current only when its tokens are proven current.

// tagSegment follows the key prefix in a tag key.
const tagSegment = "#tag:"

// tagTTL is how long a tag's token lives in the store after it was last
// set. A value that carries the tag for longer reads as absent once it
// expires: safe, at the cost of a load.
const tagTTL = 30 * 24 * time.Hour

// tagReadTTL bounds how long a tracked token is held without being read
// again, should an invalidation be missed.
const tagReadTTL = time.Minute

// maxTagsHeld bounds the tokens this process holds; past it, they are
// dropped and read again.
const maxTagsHeld = 1 << 16

// errTagExpired is the rare case of a tag key that expired between the
// SET NX that found it and the read of it: the write is not made.
var errTagExpired = errors.New("tradecache: a tag's token expired while it was read; try again")

// errInvalidated is what a read gets from the decoder for a value that
// was invalidated since it was written (a tag of it moved, or its key
// waits for a delete this process queued): every read path treats it as
// a miss.
var errInvalidated = errors.New("tradecache: a tag of the value was invalidated")

// heldToken is a token read tracked, and until when (unix nanoseconds)
// it may be held without another read.
type heldToken struct {
	tok   string
	until int64
}

// tagState holds the tokens of the tags this process has read. Over a
// store that tracks (a near tier is configured), a token read is tracked
// and held until the server says the tag key changed, so checking a
// tagged value's tags costs map lookups, no round trip; over one that
// does not, each check reads the tokens from the store.
type tagState struct {
	b      *backend
	prefix string // "<KeyPrefix>:#tag:"
	q      *invalQueue

	mu      sync.RWMutex
	current map[string]heldToken // tag -> token, read tracked and not invalidated since
	last    map[string]string    // tag -> the last token seen, for last known values while the store is down
	wrote   map[string]int64     // tag -> until when reads skip tracking (own writes, as near.OwnWriteWindow)
	// epoch moves with every invalidation of a tag key: a tracked read
	// that raced one does not put its token.
	epoch atomic.Uint64
	// counts are the tag keys' own, observed as the namespace "#tag":
	// their store calls are timed, counted and traced as every other.
	counts nsCounters
}

// observe records a store call of the tag keys.
func (t *tagState) observe(ctx context.Context, k opKind, tag string, start stamp, size int, err error) {
	t.b.obs.observe(ctx, "#tag", &t.counts, k, tag, start, size, err)
}

func newTagState(b *backend, keyPrefix string, q *invalQueue) *tagState {
	return &tagState{b: b, prefix: keyPrefix + ":" + tagSegment, q: q,
		current: map[string]heldToken{}, last: map[string]string{}, wrote: map[string]int64{}}
}

func (t *tagState) key(tag string) string { return t.prefix + tag }

func newTagToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// invalidated is told of the server's invalidation of a tag key (tag), or
// of every tracked key (all).
func (t *tagState) invalidated(tag string, all bool) {
	t.mu.Lock()
	t.epoch.Add(1)
	if all {
		clear(t.current)
	} else {
		delete(t.current, tag)
	}
	t.mu.Unlock()
}

// forget drops everything held: the server changed, and its tags may be
// older than what this process saw.
func (t *tagState) forget() {
	t.mu.Lock()
	t.epoch.Add(1)
	clear(t.current)
	clear(t.last)
	t.mu.Unlock()
}

// tokens returns the current token of each tag, "" for a tag without one.
// With create, a tag without one is given one (SET NX), so that a value
// stored with it can later be invalidated.
func (t *tagState) tokens(ctx context.Context, tags []string, create bool) ([]string, error) {
	out := make([]string, len(tags))
	var miss []int
	now := t.b.now().UnixNano()
	tracked := t.b.cached != nil
	t.mu.RLock()
	for i, tag := range tags {
		if h, ok := t.current[tag]; ok && tracked && now < h.until {
			out[i] = h.tok
		} else {
			miss = append(miss, i)
		}
	}
	for _, i := range miss {
		if until, ok := t.wrote[tags[i]]; ok && now < until {
			tracked = false // this process's own write may not have come back as an invalidation yet
		}
	}
	t.mu.RUnlock()
	if len(miss) == 0 {
		return out, nil
	}
	keys := make([]string, len(miss))
	for j, i := range miss {
		keys[j] = t.key(tags[i])
	}
	epoch := t.epoch.Load()
	var (
		vals [][]byte
		err  error
	)
	t0 := t.b.obs.start()
	if tracked {
		vals, _, err = t.b.cached.GetManyCached(ctx, keys, tagReadTTL)
	} else {
		vals, err = t.b.store.GetMany(ctx, keys)
	}
	t.observe(ctx, opGetMany, "", t0, 0, err)
	if err != nil {
		return nil, err // a PartialError too: a tag not read cannot be held current
	}
	for j, i := range miss {
		if vals[j] != nil {
			out[i] = string(vals[j])
		}
	}
	t.mu.Lock()
	if len(t.current) > maxTagsHeld {
		clear(t.current)
	}
	if len(t.last) > maxTagsHeld {
		clear(t.last)
	}
	for _, i := range miss {
		if out[i] == "" {
			continue
		}
		if tracked && t.epoch.Load() == epoch {
			t.current[tags[i]] = heldToken{out[i], now + int64(tagReadTTL)}
		}
		t.last[tags[i]] = out[i]
	}
	t.mu.Unlock()
	if !create {
		return out, nil
	}
	for _, i := range miss {
		if out[i] != "" {
			continue
		}
		tok := newTagToken()
		t0 := t.b.obs.start()
		set, err := t.b.store.SetNX(ctx, t.key(tags[i]), []byte(tok), tagTTL)
		t.observe(ctx, opSet, tags[i], t0, len(tok), err)
		if err != nil {
			return nil, err
		}
		if !set { // another writer made it first: take theirs
			t0 := t.b.obs.start()
			b, found, err := t.b.store.Get(ctx, t.key(tags[i]))
			t.observe(ctx, opGet, tags[i], t0, len(b), err)
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, errTagExpired
			}
			tok = string(b)
		}
		out[i] = tok
		t.held(tags[i], tok)
	}
	return out, nil
}

// held records tok as tag's token, as this process wrote or created it:
// its reads skip tracking for the own-write window, since the server's
// invalidation of this process's own write comes back later.
func (t *tagState) held(tag, tok string) {
	t.mu.Lock()
	t.epoch.Add(1)
	delete(t.current, tag)
	t.last[tag] = tok
	if len(t.wrote) > maxTagsHeld {
		clear(t.wrote)
	}
	t.wrote[tag] = t.b.now().Add(near.OwnWriteWindow).UnixNano()
	t.mu.Unlock()
}

// capture reads the tokens of tags before a value is computed, creating
// those that have none, for the value's envelope.
func (t *tagState) capture(ctx context.Context, tags []string) ([]codec.Tag, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	for _, tag := range tags {
		// An invalidation of the tag queued by this process goes first:
		// a value captured under the token it replaces would outlive it.
		if err := t.q.settle(ctx, invalTag, tag, t.b.applyInval); err != nil {
			return nil, err
		}
	}
	toks, err := t.tokens(ctx, tags, true)
	if err != nil {
		return nil, err
	}
	out := make([]codec.Tag, len(tags))
	for i, tag := range tags {
		out[i] = codec.Tag{Name: tag, Token: toks[i]}
	}
	return out, nil
}

// holds reports whether every tag in section (codec.Meta.Tags) still
// has the token the value carries. A tag whose invalidation waits in this
// process's queue has moved. The common case, every token held, costs
// map lookups and no allocation.
func (t *tagState) holds(ctx context.Context, section []byte) (bool, error) {
	if t.q.pendingTags(section) {
		return false, nil
	}
	ok, complete := true, true
	if t.b.cached != nil {
		now := t.b.now().UnixNano()
		t.mu.RLock()
		codec.EachTag(section, func(name, token []byte) bool {
			h, held := t.current[string(name)]
			switch {
			case !held || now >= h.until:
				complete = false
			case h.tok != string(token):
				ok = false
				return false
			}
			return true
		})
		t.mu.RUnlock()
		if !ok || complete {
			return ok, nil
		}
	}
	tags := codec.Tags(section)
	names := make([]string, len(tags))
	for i, tg := range tags {
		names[i] = tg.Name
	}
	toks, err := t.tokens(ctx, names, false)
	if err != nil {
		return false, err
	}
	for i, tg := range tags {
		if toks[i] == "" || toks[i] != tg.Token {
			return false, nil
		}
	}
	return true, nil
}

// lastCurrent is holds for a last known value served while the store
// cannot be reached: it holds the tags to the last tokens this process
// saw, and to the invalidations it queued.
func (t *tagState) lastCurrent(tags []codec.Tag) bool {
	for _, tg := range tags {
		if t.q.pendingTag(tg.Name) {
			return false
		}
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, tg := range tags {
		if tok, ok := t.last[tg.Name]; ok && tok != tg.Token {
			return false
		}
	}
	return true
}

// invalidate gives each tag a new token in the store, in one round trip
// (one per node on a cluster).
func (t *tagState) invalidate(ctx context.Context, tags []string) error {
	entries := make([]store.Entry, len(tags))
	toks := make([]string, len(tags))
	for i, tag := range tags {
		toks[i] = newTagToken()
		entries[i] = store.Entry{Key: t.key(tag), Value: []byte(toks[i]), TTL: tagTTL}
	}
	t.epoch.Add(1) // a tracked read in flight must not put the old token
	t0 := t.b.obs.start()
	err := t.b.store.SetMany(ctx, entries)
	t.observe(ctx, opSetMany, "", t0, 0, err)
	var pe *store.PartialError
	for i, tag := range tags {
		if err == nil || errors.As(err, &pe) && !pe.Has(i) {
			t.held(tag, toks[i])
		} else {
			t.invalidated(tag, false)
		}
	}
	return err
}
