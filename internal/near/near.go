// Package near is the near tier's engine: a sharded, bounded, in-process
// map of decoded values that a cache keeps in front of Redis, and the
// bookkeeping that keeps it from serving a value the server has since
// invalidated.
//
// Two mechanisms do that. Every invalidation of a key moves its shard's
// epoch, and a value read before the move is not put (Epoch, then Put
// with it). And a process's own writes make their keys "pending" for
// OwnWriteWindow (Wrote, Settled), during which the cache reads them
// untracked and keeps nothing, because the server's invalidation of a
// process's own write arrives asynchronously.
package near

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// shards is how many independently locked parts a Tier has.
const shards = 16

// OwnWriteWindow is how long after this process writes a key its reads
// bypass tracked (client-side cached) reads: the server's invalidation of a
// process's own write arrives a few milliseconds later (p99 4 ms measured
// across instances), and until then the client's copy is the old value.
const OwnWriteWindow = 250 * time.Millisecond

// Tier is a sharded, bounded map of decoded values with per-shard epochs,
// so that a read that raced an invalidation cannot put its value back. A
// Tier knows nothing of what it holds or where it came from.
type Tier struct {
	shards     [shards]shard
	seed       maphash.Seed
	maxEntries int   // per shard
	maxBytes   int64 // per shard
	maxAge     time.Duration
	evictions  atomic.Uint64
	// allUntil, when in the future, makes every key pending: set by a
	// namespace clear (unix nanoseconds).
	allUntil atomic.Int64
}

// shard's counters live beside its lock: one tier-wide hit counter
// was the contended cache line that capped hits at 50 goroutines.
type shard struct {
	mu           sync.RWMutex
	m            map[string]*entry
	bytes        int64
	epoch        atomic.Uint64    // bumped by every invalidation in the shard
	pending      map[string]int64 // keys this process wrote: until when reads skip tracking
	hits, misses atomic.Uint64
	_            [64]byte
}

type entry struct {
	v    any
	size int64
	exp  int64 // unix nanoseconds
}

// New returns a Tier of at most maxEntries values and about maxBytes
// bytes (as Put counts them), each kept at most maxAge (0: no bound of the
// Tier's own). Both bounds are spread evenly over the shards.
func New(maxEntries int, maxBytes int64, maxAge time.Duration) *Tier {
	t := &Tier{seed: maphash.MakeSeed(), maxEntries: max(1, maxEntries/shards), maxBytes: max(1, maxBytes/shards), maxAge: maxAge}
	for i := range t.shards {
		t.shards[i].m = make(map[string]*entry)
		t.shards[i].pending = make(map[string]int64)
	}
	return t
}

func (t *Tier) shard(key string) *shard {
	return &t.shards[maphash.String(t.seed, key)%shards]
}

// Get returns key's value if it is held and has not expired at now (unix
// nanoseconds).
func (t *Tier) Get(key string, now int64) (any, bool) {
	sh := t.shard(key)
	sh.mu.RLock()
	e := sh.m[key]
	sh.mu.RUnlock()
	if e == nil || now >= e.exp {
		sh.misses.Add(1)
		return nil, false
	}
	sh.hits.Add(1)
	return e.v, true
}

// Put stores v, counted as size bytes, until exp (unix nanoseconds),
// unless an invalidation of the shard happened since epoch
// (the read that produced v may predate it).
func (t *Tier) Put(key string, v any, size int64, exp int64, epoch uint64) {
	if size > t.maxBytes {
		// Larger than a shard's whole budget: keeping it would evict
		// everything else in the shard and still overrun the bound.
		t.evictions.Add(1)
		return
	}
	sh := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.epoch.Load() != epoch {
		return
	}
	if old := sh.m[key]; old != nil {
		sh.bytes -= old.size
	}
	for len(sh.m) >= t.maxEntries || sh.bytes+size > t.maxBytes && len(sh.m) > 0 {
		for k, e := range sh.m { // map order: an arbitrary victim
			delete(sh.m, k)
			sh.bytes -= e.size
			t.evictions.Add(1)
			break
		}
	}
	sh.m[key] = &entry{v: v, size: size, exp: exp}
	sh.bytes += size
}

// Epoch is key's shard epoch: a read that saw it may keep its value only
// if no invalidation of the shard has happened since.
func (t *Tier) Epoch(key string) uint64 { return t.shard(key).epoch.Load() }

// Invalidate drops key: the server said it changed.
func (t *Tier) Invalidate(key string) {
	sh := t.shard(key)
	sh.mu.Lock()
	sh.drop(key)
	sh.mu.Unlock()
}

// drop removes key and moves the epoch, so that reads in flight cannot
// put theirs back. The caller holds sh.mu.
func (sh *shard) drop(key string) {
	sh.epoch.Add(1)
	if e := sh.m[key]; e != nil {
		delete(sh.m, key)
		sh.bytes -= e.size
	}
}

// Wrote records that this process wrote key: the entry goes, reads still
// in flight cannot put theirs back (the epoch moves), and reads for the
// next OwnWriteWindow skip tracking.
func (t *Tier) Wrote(key string, now int64) {
	sh := t.shard(key)
	sh.mu.Lock()
	sh.drop(key)
	// Keep the map small without scanning it under the lock: each write
	// looks at a couple of entries (map order is random) and drops those
	// that lapsed, which keeps it near the keys written in the window.
	looked := 0
	for k, until := range sh.pending {
		if until <= now {
			delete(sh.pending, k)
		}
		if looked++; looked == 2 {
			break
		}
	}
	sh.pending[key] = now + int64(OwnWriteWindow)
	sh.mu.Unlock()
}

// WroteAll is Wrote for every key: after a namespace clear.
func (t *Tier) WroteAll(now int64) {
	t.allUntil.Store(now + int64(OwnWriteWindow))
	t.Flush()
}

// Settled reports whether key may be read through tracking: this process
// has not written it within OwnWriteWindow.
func (t *Tier) Settled(key string, now int64) bool {
	if now < t.allUntil.Load() {
		return false
	}
	sh := t.shard(key)
	sh.mu.RLock()
	until, ok := sh.pending[key]
	sh.mu.RUnlock()
	return !ok || now >= until
}

// ReadTTL bounds how long a tracked read's copy is valid: ttl, or the
// Tier's maxAge when that is shorter.
func (t *Tier) ReadTTL(ttl time.Duration) time.Duration {
	if t.maxAge > 0 && t.maxAge < ttl {
		return t.maxAge
	}
	return ttl
}

// Flush drops every value and moves every epoch: after a lost
// connection, when invalidations may have been missed.
func (t *Tier) Flush() {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		sh.epoch.Add(1)
		clear(sh.m)
		sh.bytes = 0
		sh.mu.Unlock()
	}
}

// Stats returns the hits and misses counted by Get, and what is held.
func (t *Tier) Stats() (hits, misses uint64, entries int, bytes int64) {
	for i := range t.shards {
		sh := &t.shards[i]
		hits += sh.hits.Load()
		misses += sh.misses.Load()
		sh.mu.RLock()
		entries += len(sh.m)
		bytes += sh.bytes
		sh.mu.RUnlock()
	}
	return hits, misses, entries, bytes
}

// Evictions counts values dropped to keep within the bounds.
func (t *Tier) Evictions() uint64 { return t.evictions.Load() }
