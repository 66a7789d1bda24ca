// Package flight runs at most one load per key at a time in a process and
// keeps the last value each key was known to have.
//
// A load runs in a goroutine of its own, with a context detached from every
// caller's and bounded by a timeout, so that one caller giving up does not
// fail the others waiting on the same load; a panic in it reaches every
// waiter as a *Panic and the process lives on. The package knows
// nothing of caches: results and values are the caller's own types.
package flight

import (
	"container/list"
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Panic is what every caller waiting on a load gets when the load
// panicked.
type Panic struct {
	Value any    // what the load panicked with
	Stack []byte // the load's stack at the panic
}

func (e *Panic) Error() string { return fmt.Sprintf("tradecache: loader panicked: %v", e.Value) }

// Recover turns a panic into a *Panic in *err. Use it as
// defer flight.Recover(&err) in a function that calls foreign code.
func Recover(err *error) {
	if r := recover(); r != nil {
		*err = &Panic{Value: r, Stack: debug.Stack()}
	}
}

// call is one load in progress.
type call[R any] struct {
	done chan struct{}
	res  R
	err  error
}

// Group runs at most one load per key at a time. The zero value is ready.
// Stop cancels the loads in progress and waits for them; after it, loads
// fail at once with ErrStopped.
type Group[R any] struct {
	mu      sync.Mutex
	m       map[string]*call[R]
	wg      sync.WaitGroup
	stopped bool
	stop    context.Context // cancelled by Stop; made on first use
	cancel  context.CancelFunc
}

// ErrStopped is the error of a load started after Stop.
var ErrStopped = fmt.Errorf("tradecache: closed")

// Stop cancels every load in progress (their context ends) and waits for
// them to return; loads started later fail with ErrStopped at once. A
// loader that ignores its context holds Stop until it returns.
func (g *Group[R]) Stop() {
	g.mu.Lock()
	if !g.stopped {
		g.stopped = true
		if g.stop == nil {
			g.stop, g.cancel = context.WithCancel(context.Background())
		}
		g.cancel()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// Do starts fn for key unless a load of key is in progress, then waits for
// it or for ctx, whichever ends first. fn runs with a context detached from
// ctx and bounded by timeout.
func (g *Group[R]) Do(ctx context.Context, key string, timeout time.Duration, fn func(context.Context) (R, error)) (R, error) {
	c := g.start(ctx, key, timeout, fn)
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	}
}

// Call is a load in progress, for a caller that waits on it its own way.
type Call[R any] struct{ c *call[R] }

// Start returns the load of key in progress, starting fn for it if there
// is none, without waiting.
func (g *Group[R]) Start(ctx context.Context, key string, timeout time.Duration, fn func(context.Context) (R, error)) Call[R] {
	return Call[R]{g.start(ctx, key, timeout, fn)}
}

// Done is closed when the load has finished.
func (c Call[R]) Done() <-chan struct{} { return c.c.done }

// Result is the load's outcome; call it once Done is closed.
func (c Call[R]) Result() (R, error) { return c.c.res, c.c.err }

// Go starts fn for key in the background unless a load of key is in
// progress, and does not wait.
func (g *Group[R]) Go(ctx context.Context, key string, timeout time.Duration, fn func(context.Context) (R, error)) {
	g.start(ctx, key, timeout, fn)
}

// Running counts the loads running.
func (g *Group[R]) Running() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.m)
}

// InFlight reports whether a load of key is running.
func (g *Group[R]) InFlight(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.m[key]
	return ok
}

func (g *Group[R]) start(ctx context.Context, key string, timeout time.Duration, fn func(context.Context) (R, error)) *call[R] {
	g.mu.Lock()
	if c, ok := g.m[key]; ok {
		g.mu.Unlock()
		return c
	}
	c := &call[R]{done: make(chan struct{})}
	if g.stopped {
		g.mu.Unlock()
		c.err = ErrStopped
		close(c.done)
		return c
	}
	if g.m == nil {
		g.m = make(map[string]*call[R])
	}
	if g.stop == nil {
		g.stop, g.cancel = context.WithCancel(context.Background())
	}
	stop := g.stop
	g.m[key] = c
	g.wg.Add(1)
	g.mu.Unlock()
	go func() {
		defer g.wg.Done()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer context.AfterFunc(stop, cancel)() // Stop cancels the load
		defer func() {
			if r := recover(); r != nil {
				var zero R
				c.res, c.err = zero, &Panic{Value: r, Stack: debug.Stack()}
			}
			cancel()
			g.mu.Lock()
			delete(g.m, key)
			g.mu.Unlock()
			close(c.done)
		}()
		c.res, c.err = fn(lctx)
	}()
	return c
}

// Known keeps the last known value of each key, for serving within a
// staleness bound when the store cannot be reached. It is a bounded cache:
// at most Limit keys and MaxBytes bytes (each value's size given by the
// caller), the least recently remembered evicted first, and each entry
// forgotten once its own deadline (FreshUntil + MaxStale) passes, so that
// new keys always find room and a megabyte value is not kept for ever. A
// value never replaces a newer one (Remember compares asOf under the
// shard's lock). The zero value remembers nothing until Limit and MaxBytes
// are set.
type Known[V any] struct {
	Limit    int64
	MaxBytes int64
	shards   [knownShards]knownShard[V]
}

const knownShards = 16

type knownShard[V any] struct {
	mu    sync.Mutex
	m     map[string]*list.Element // of *known[V]
	lru   list.List                // front: most recently remembered
	bytes int64
}

type known[V any] struct {
	key   string
	v     V
	asOf  time.Time
	until time.Time // forgotten after this
	size  int64
}

func (k *Known[V]) shard(key string) *knownShard[V] {
	h := uint32(2166136261) // FNV-1a: the shard of a key
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return &k.shards[h%knownShards]
}

// Remember records v, as of asOf, for key until until, unless what is
// held is as new. sizeOf gives v's size in bytes; it is called only when v
// is kept (a hit that finds its value already held costs a lookup). A
// value larger than a shard's share of MaxBytes is not kept.
func (k *Known[V]) Remember(key string, v V, asOf, until time.Time, sizeOf func() int64) {
	limit, maxBytes := k.Limit/knownShards, k.MaxBytes/knownShards
	if limit < 1 {
		return
	}
	s := k.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*list.Element{}
	}
	e, held := s.m[key]
	if held && !e.Value.(*known[V]).asOf.Before(asOf) {
		return // already as new: never go back
	}
	size := sizeOf()
	if size > maxBytes {
		if held {
			s.remove(e) // what it held is older than what it cannot keep
		}
		return
	}
	if held {
		old := e.Value.(*known[V])
		s.bytes += size - old.size
		old.v, old.asOf, old.until, old.size = v, asOf, until, size
		s.lru.MoveToFront(e)
	} else {
		s.m[key] = s.lru.PushFront(&known[V]{key: key, v: v, asOf: asOf, until: until, size: size})
		s.bytes += size
	}
	for int64(len(s.m)) > limit || s.bytes > maxBytes {
		s.remove(s.lru.Back())
	}
}

func (s *knownShard[V]) remove(e *list.Element) {
	kn := e.Value.(*known[V])
	s.lru.Remove(e)
	delete(s.m, kn.key)
	s.bytes -= kn.size
}

// Get returns key's last known value, if it is held and now is not past
// its deadline (an expired one is forgotten).
func (k *Known[V]) Get(key string, now time.Time) (V, bool) {
	var zero V
	s := k.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		return zero, false
	}
	kn := e.Value.(*known[V])
	if now.After(kn.until) {
		s.remove(e)
		return zero, false
	}
	return kn.v, true
}

// Len and Bytes report what is held (expired entries not yet found
// included).
func (k *Known[V]) Len() (n int, bytes int64) {
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		n, bytes = n+len(s.m), bytes+s.bytes
		s.mu.Unlock()
	}
	return n, bytes
}

// Clear forgets every value: after the store lost or rewound its data,
// what this process remembers of it is no longer what the store holds.
func (k *Known[V]) Clear() {
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		s.m, s.bytes = nil, 0
		s.lru.Init()
		s.mu.Unlock()
	}
}

// Forget drops key's last known value: it was invalidated, and must not
// be served again, even stale.
func (k *Known[V]) Forget(key string) {
	s := k.shard(key)
	s.mu.Lock()
	if e, ok := s.m[key]; ok {
		s.remove(e)
	}
	s.mu.Unlock()
}

// ForgetPrefix drops the last known value of every key that starts with
// prefix: a namespace was cleared.
func (k *Known[V]) ForgetPrefix(prefix string) {
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		for key, e := range s.m {
			if strings.HasPrefix(key, prefix) {
				s.remove(e)
			}
		}
		s.mu.Unlock()
	}
}
