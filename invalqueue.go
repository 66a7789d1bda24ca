package tradecache

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/store"
)

// Durable invalidation. A Delete, InvalidateTag or ClearNamespace that
// cannot reach the store is not an error the caller must retry by hand:
// this process forgets the values at once (near tier, last known values),
// never serves them again, fail-safe included, and keeps the
// invalidation in a bounded queue, one entry per key, tag and namespace,
// which it applies when the store answers again (the health checker
// drains it) and before any write of its own to the same key or tag.
// Another process may serve the old value until the queue is applied:
// from its near tier, for at most the namespace's near MaxAge.

// DefaultInvalidationQueue is how many invalidations a Cache keeps while
// the store cannot be reached, when Config.InvalidationQueue is 0.
const DefaultInvalidationQueue = 10000

// ErrInvalidationQueueFull is returned by an invalidation that could not
// reach the store and found the queue full: this process still forgets
// the value, but the store keeps it, and so may other processes. It wraps
// the store's error too.
var ErrInvalidationQueueFull = errors.New("tradecache: invalidation queue full")

type invalKind uint8

const (
	invalKey   invalKind = iota // a full key to delete
	invalTag                    // a tag to give a new token
	invalClear                  // a namespace base ("<prefix>:<ns>:") to clear
)

type queuedInval struct {
	kind   invalKind
	target string
	batch  int // for a clear: keys per round trip
	at     time.Time
	seq    uint64
}

// invalQueue is the queue. n is read without the lock, so that a read
// path pays one atomic load while nothing is queued.
type invalQueue struct {
	mu      sync.Mutex
	max     int
	entries map[invalKind]map[string]*queuedInval
	seq     uint64
	n       atomic.Int64
	// draining is held by the one drain at a time.
	draining sync.Mutex

	queued, applied, dropped atomic.Uint64
}

func newInvalQueue(max int) *invalQueue {
	return &invalQueue{max: max, entries: map[invalKind]map[string]*queuedInval{
		invalKey: {}, invalTag: {}, invalClear: {}}}
}

// add queues an invalidation. A target already queued keeps its place
// and its age: applying it once serves both.
func (q *invalQueue) add(kind invalKind, target string, batch int, now time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.entries[kind][target]; ok {
		return nil
	}
	if int(q.n.Load()) >= q.max {
		q.dropped.Add(1)
		return ErrInvalidationQueueFull
	}
	q.seq++
	q.entries[kind][target] = &queuedInval{kind: kind, target: target, batch: batch, at: now, seq: q.seq}
	q.n.Add(1)
	q.queued.Add(1)
	return nil
}

func (q *invalQueue) has(kind invalKind, target string) bool {
	if q.n.Load() == 0 {
		return false
	}
	q.mu.Lock()
	_, ok := q.entries[kind][target]
	q.mu.Unlock()
	return ok
}

// pendingKey reports whether full, a key of the namespace whose base is
// base, is waiting to be deleted or cleared.
func (q *invalQueue) pendingKey(full, base string) bool {
	if q.n.Load() == 0 {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	_, key := q.entries[invalKey][full]
	_, all := q.entries[invalClear][base]
	return key || all
}

func (q *invalQueue) pendingTag(tag string) bool { return q.has(invalTag, tag) }

// pendingTags reports whether any tag of section is waiting.
func (q *invalQueue) pendingTags(section []byte) bool {
	if q.n.Load() == 0 {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	found := false
	codec.EachTag(section, func(name, _ []byte) bool {
		_, found = q.entries[invalTag][string(name)]
		return !found
	})
	return found
}

// oldest returns the age of the oldest queued invalidation at now.
func (q *invalQueue) oldest(now time.Time) time.Duration {
	if q.n.Load() == 0 {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var first time.Time
	for _, m := range q.entries {
		for _, e := range m {
			if first.IsZero() || e.at.Before(first) {
				first = e.at
			}
		}
	}
	return max(0, now.Sub(first))
}

// drain applies the queued invalidations in the order they were queued,
// and stops at the first that fails: the store is still away.
func (q *invalQueue) drain(ctx context.Context, apply func(context.Context, *queuedInval) error) error {
	if q.n.Load() == 0 {
		return nil
	}
	q.draining.Lock()
	defer q.draining.Unlock()
	q.mu.Lock()
	var todo []*queuedInval
	for _, m := range q.entries {
		for _, e := range m {
			todo = append(todo, e)
		}
	}
	q.mu.Unlock()
	slices.SortFunc(todo, func(a, b *queuedInval) int { return cmp.Compare(a.seq, b.seq) })
	for _, e := range todo {
		if err := q.applyOne(ctx, e, apply); err != nil {
			return err
		}
	}
	return nil
}

// settle applies the queued invalidation of kind and target now, if
// there is one: a write must not be overtaken by an older invalidation.
func (q *invalQueue) settle(ctx context.Context, kind invalKind, target string, apply func(context.Context, *queuedInval) error) error {
	if q.n.Load() == 0 {
		return nil
	}
	q.mu.Lock()
	e, ok := q.entries[kind][target]
	q.mu.Unlock()
	if !ok {
		return nil
	}
	q.draining.Lock()
	defer q.draining.Unlock()
	return q.applyOne(ctx, e, apply)
}

func (q *invalQueue) applyOne(ctx context.Context, e *queuedInval, apply func(context.Context, *queuedInval) error) error {
	q.mu.Lock()
	cur, ok := q.entries[e.kind][e.target]
	q.mu.Unlock()
	if !ok || cur != e {
		return nil // applied already
	}
	if err := apply(ctx, e); err != nil {
		return err
	}
	q.mu.Lock()
	if q.entries[e.kind][e.target] == e {
		delete(q.entries[e.kind], e.target)
		q.n.Add(-1)
		q.applied.Add(1)
	}
	q.mu.Unlock()
	return nil
}

// queueable reports whether err means the store could not be reached or
// could not take the command for now, so that the invalidation is kept
// for later; an ACL refusal or bad credentials are not passing states,
// and are returned.
func queueable(err error) bool {
	return errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrTimeout) || errors.Is(err, store.ErrRefused)
}

// InvalidationStats describes the durable invalidation queue.
type InvalidationStats struct {
	// Queued is how many invalidations wait for the store now.
	Queued int `json:"queued"`
	// Total counts of invalidations queued, applied from the queue, and
	// refused because the queue was full (ErrInvalidationQueueFull).
	Enqueued uint64 `json:"enqueued"`
	Applied  uint64 `json:"applied"`
	Dropped  uint64 `json:"dropped"`
	// OldestAge is how long the oldest queued invalidation has waited.
	OldestAge time.Duration `json:"oldest_age"`
}

func (q *invalQueue) stats(now time.Time) InvalidationStats {
	return InvalidationStats{Queued: int(q.n.Load()), Enqueued: q.queued.Load(), Applied: q.applied.Load(),
		Dropped: q.dropped.Load(), OldestAge: q.oldest(now)}
}

// drainInvalidations applies what is queued, bounded by the Cache's
// batch timeout: the health checker calls it on each tick.
func (c *Cache) drainInvalidations() {
	if c.inval.n.Load() == 0 || c.closed.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.BatchTimeout)
	defer cancel()
	_ = c.inval.drain(ctx, c.applyInval)
}
