package tradecache

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The near cache is an in-process tier of decoded values in front of
// Redis, opt-in per namespace (NamespaceConfig.Near).
//
// Invalidation uses Redis's server-assisted client-side caching: a near
// miss reads through rueidis DoCache, which registers the key with CLIENT
// TRACKING on that connection, so any client's write to it makes the
// server push an invalidation, and the entry is dropped. Default
// (per-key) tracking was chosen over BCAST prefix tracking: the server
// then notifies only keys this process actually holds, not every write
// under a hot namespace, which for market data would be every tick. When
// a connection is lost, rueidis reports it and the whole tier is flushed:
// a value is never served once its invalidation could have been missed.
// Entries also expire at the value's own TTL (and at MaxAge), so a value
// outlives neither.
//
// Own writes are read back at once. The server's invalidation for a write
// this process made arrives asynchronously, a few milliseconds later, and
// until then rueidis's per-connection copy still holds the old value. So a
// write through this Cache drops the key from the near tier itself and,
// for ownWriteWindow, reads of that key skip the tracked path (a plain GET,
// nothing kept); after the window the server's invalidation has long
// arrived (p99 4 ms measured across instances). ClearNamespace does the
// same for the whole namespace.
//
// Values are shared, not copied: GetNear returns the cached value itself
// (copying T by value, but slices, maps and pointers inside it are the
// cached ones). Treat them as immutable. A private copy would mean decoding
// per hit, 575-620 ns for a quote (codec BenchmarkQuoteBudget), against
// 76 ns for a shared hit (BenchmarkNearHit): eight times the cost for a
// guarantee the caller can keep by not writing to what it reads.

const nearShards = 16

// ownWriteWindow is how long after this process writes a key its near reads
// bypass tracked (client-side cached) reads; see above.
const ownWriteWindow = 250 * time.Millisecond

type nearTier struct {
	shards     [nearShards]nearShard
	seed       maphash.Seed
	maxEntries int   // per shard
	maxBytes   int64 // per shard
	maxAge     time.Duration
	evict      atomic.Uint64
	// allUntil, when in the future, makes every key pending: set by a
	// namespace clear (unix nanoseconds).
	allUntil atomic.Int64
}

// nearShard's counters live beside its lock: one tier-wide hit counter
// was the contended cache line that capped hits at 50 goroutines.
type nearShard struct {
	mu           sync.RWMutex
	m            map[string]*nearEntry
	bytes        int64
	epoch        atomic.Uint64    // bumped by every invalidation in the shard
	pending      map[string]int64 // keys this process wrote: until when reads skip tracking
	hits, misses atomic.Uint64
	_            [64]byte
}

type nearEntry struct {
	v    any
	size int64
	exp  int64 // unix nanoseconds
}

func newNearTier(c NearConfig) *nearTier {
	if c.MaxEntries <= 0 {
		c.MaxEntries = 10000
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 64 << 20
	}
	t := &nearTier{seed: maphash.MakeSeed(), maxEntries: max(1, c.MaxEntries/nearShards), maxBytes: max(1, c.MaxBytes/nearShards), maxAge: c.MaxAge}
	for i := range t.shards {
		t.shards[i].m = make(map[string]*nearEntry)
		t.shards[i].pending = make(map[string]int64)
	}
	return t
}

func (t *nearTier) shard(key string) *nearShard {
	return &t.shards[maphash.String(t.seed, key)%nearShards]
}

func (t *nearTier) get(key string, now int64) (any, bool) {
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

// put stores v unless an invalidation of the shard happened since epoch
// (the read that produced v may predate it).
func (t *nearTier) put(key string, v any, size int64, exp int64, epoch uint64) {
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
			t.evict.Add(1)
			break
		}
	}
	sh.m[key] = &nearEntry{v: v, size: size, exp: exp}
	sh.bytes += size
}

// epoch is key's shard epoch: a read that saw it may keep its value only
// if no invalidation of the shard has happened since.
func (t *nearTier) epoch(key string) uint64 { return t.shard(key).epoch.Load() }

func (t *nearTier) invalidate(key string) {
	sh := t.shard(key)
	sh.mu.Lock()
	sh.drop(key)
	sh.mu.Unlock()
}

// drop removes key and moves the epoch, so that reads in flight cannot
// put theirs back. The caller holds sh.mu.
func (sh *nearShard) drop(key string) {
	sh.epoch.Add(1)
	if e := sh.m[key]; e != nil {
		delete(sh.m, key)
		sh.bytes -= e.size
	}
}

// wrote records that this process wrote key: the entry goes, reads still
// in flight cannot put theirs back (the epoch moves), and reads for the
// next ownWriteWindow skip tracking.
func (t *nearTier) wrote(key string, now int64) {
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
	sh.pending[key] = now + int64(ownWriteWindow)
	sh.mu.Unlock()
}

// wroteAll is wrote for every key: after a namespace clear.
func (t *nearTier) wroteAll(now int64) {
	t.allUntil.Store(now + int64(ownWriteWindow))
	t.flush()
}

// settled reports whether key may be read through tracking: this process
// has not written it within ownWriteWindow.
func (t *nearTier) settled(key string, now int64) bool {
	if now < t.allUntil.Load() {
		return false
	}
	sh := t.shard(key)
	sh.mu.RLock()
	until, ok := sh.pending[key]
	sh.mu.RUnlock()
	return !ok || now >= until
}

// wroteNear tells n's near tier, if any, that this process wrote keys.
func (n *Namespace) wroteNear(keys ...string) {
	if n.near == nil {
		return
	}
	now := time.Now().UnixNano()
	for _, k := range keys {
		n.near.wrote(k, now)
	}
}

// readTTL bounds how long a tracked read's copy is valid: the namespace's
// TTL, or MaxAge when that is shorter.
func (t *nearTier) readTTL(nsTTL time.Duration) time.Duration {
	if t.maxAge > 0 && t.maxAge < nsTTL {
		return t.maxAge
	}
	return nsTTL
}

func (t *nearTier) flush() {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		sh.epoch.Add(1)
		clear(sh.m)
		sh.bytes = 0
		sh.mu.Unlock()
	}
}

func (t *nearTier) stats() (hits, misses uint64, entries int, bytes int64) {
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

// onInvalidations receives the server's invalidations from the store:
// keys, or nil when every tracked key is invalid (connection lost,
// FLUSHALL).
func (c *Cache) onInvalidations(keys []string) {
	if keys == nil {
		c.namespaces.Range(func(_, v any) bool {
			if n := v.(*Namespace); n.near != nil {
				n.near.flush()
			}
			return true
		})
		c.nearFlushes.Add(1)
		return
	}
	prefix := c.cfg.KeyPrefix + ":"
	for _, full := range keys {
		if !strings.HasPrefix(full, prefix) {
			continue
		}
		nsName, key, ok := strings.Cut(full[len(prefix):], ":")
		if !ok {
			continue
		}
		if v, ok := c.namespaces.Load(nsName); ok {
			if n := v.(*Namespace); n.near != nil {
				n.near.invalidate(key)
			}
		}
	}
}

// GetNear reads key through ns's near cache: a decoded value held in
// process when there is one, else a tracked read from Redis whose decoded
// value is kept until any client changes the key (see the package's near
// cache notes above: values are shared and must not be modified). found
// is false for a missing key. On a namespace without a near tier, or on
// the in-memory store, it is a plain Get.
func GetNear[T any](ctx context.Context, ns *Namespace, key string) (T, bool, error) {
	var zero T
	if ns.near != nil && !ns.c.closed.Load() {
		if v, ok := ns.near.get(key, time.Now().UnixNano()); ok {
			if tv, ok := v.(T); ok {
				return tv, true, nil
			}
		}
	}
	const op = "get"
	full, err := ns.key(op, key)
	if err != nil {
		return zero, false, err
	}
	b, found, kp, err := ns.read(ctx, opGet, key, full, true)
	if err != nil {
		return zero, false, ns.fail(op, key, err)
	}
	if !found {
		ns.miss(1)
		return zero, false, nil
	}
	var v T
	if err := ns.decode(opGet, op, key, full, b, &v); err != nil {
		return zero, false, err
	}
	ns.hit(1)
	ns.keepNear(key, v, len(b), kp, kp.until)
	return v, true, nil
}

// GetManyNear is GetMany through ns's near cache, as GetNear is Get: keys
// held in process are served from it, and the rest are read with tracked
// reads, MaxBatchSize keys per round trip, and kept until any client
// changes them. Missing keys are absent from the map. Values are shared
// and must not be modified (see GetNear).
//
// Errors are GetMany's: keys not read, on a cluster with a shard down,
// are named by a *PartialError beside the values that were; a value that
// cannot be decoded gives a *SerializationError after every other value
// has been decoded. On a namespace without a near tier, or on the
// in-memory store, it is a plain GetMany.
func GetManyNear[T any](ctx context.Context, ns *Namespace, keys []string) (map[string]T, error) {
	const op = "get_many"
	out := make(map[string]T, len(keys))
	if ns.near == nil {
		_, err := ns.GetMany(ctx, keys, &out)
		return out, err
	}
	if ns.c.closed.Load() {
		return nil, ns.fail(op, "", errClosed)
	}
	if err := ns.tooMany(op, len(keys)); err != nil {
		return nil, err
	}
	now := time.Now().UnixNano()
	var rest, full []string // near misses
	for _, k := range keys {
		if v, ok := ns.near.get(k, now); ok {
			if tv, ok := v.(T); ok {
				out[k] = tv
				continue
			}
		}
		if err := ns.check(op, k); err != nil {
			return nil, err // before anything is sent
		}
		rest, full = append(rest, k), append(full, ns.base+k)
	}
	var serr error
	held := len(out)
	read, partial := ns.readMany(ctx, op, rest, full, true, func(i int, b []byte, kp nearKeep, err error) {
		switch {
		case err != nil:
			return
		case b == nil:
			ns.miss(1)
			return
		}
		var v T
		if err := ns.decode(opGetMany, op, rest[i], full[i], b, &v); err != nil {
			if serr == nil {
				serr = err
			}
			return
		}
		ns.hit(1)
		out[rest[i]] = v
		ns.keepNear(rest[i], v, len(b), kp, kp.until)
	})
	if err := ns.batchErr(op, partial, held+read); err != nil {
		return out, err
	}
	return out, serr
}
