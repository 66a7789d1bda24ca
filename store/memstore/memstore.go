// Package memstore is tradecache's embedded, in-process Store.
//
// It is a product backend, not a mock: it is the default when no Redis is
// configured, and it is what users' own tests run against. It passes the
// same conformance suite (package storetest) as the Redis store.
//
// Memory is bounded in bytes. The key space is split into shards, each with
// its own mutex, LRU list and an equal share of the byte budget, so that
// concurrent callers on different keys rarely contend. When a write would
// take a shard over its share, the least recently used entries of that shard
// are evicted. Expired entries are removed lazily, when they are touched or
// reach the LRU tail; there is no background goroutine, so a Store that is
// never closed leaks nothing.
package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tradecache/tradecache/internal/wake"
	"github.com/tradecache/tradecache/store"
)

// Defaults used for zero Options fields.
const (
	DefaultMaxBytes = 256 << 20 // 256 MiB
	DefaultShards   = 16
)

// entryOverhead approximates the bytes an entry costs beyond its key and
// value (struct, list links, map slot), so that millions of tiny entries
// cannot escape the budget.
const entryOverhead = 96

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// MaxBytes bounds the memory held by keys, values and per-entry
	// overhead. Zero means DefaultMaxBytes. It is split evenly across
	// shards, so the largest storable entry is MaxBytes/Shards.
	MaxBytes int64
	// Shards is the number of independently locked shards, rounded up to
	// a power of two. Zero means DefaultShards.
	Shards int
	// Now is the clock used for TTLs. Nil means time.Now. Tests set it to
	// move time instead of sleeping.
	Now func() time.Time
}

// Store is an in-process store.Store. Create it with New.
type Store struct {
	shards []shard
	mask   uint64
	seed   maphash.Seed
	now    func() time.Time
	closed atomic.Bool

	versioned sync.Mutex // serializes SetIfNewer

	streamOnce sync.Once
	strm       *memStreams // the streams (streams.go), made on first use

	rosterMu sync.Mutex
	rosters  map[string]map[string]int64 // roster key -> member -> expiry (unix ns)

	releases wake.Board // DeleteIfEqual's releases, for store.ReleaseWatcher

	evictions atomic.Int64
}

type shard struct {
	mu       sync.Mutex
	items    map[string]*entry
	head     *entry // most recently used
	tail     *entry // least recently used
	bytes    int64
	maxBytes int64
	_        [40]byte // keep neighbouring shards' locks off one cache line
}

type entry struct {
	key        string
	value      []byte
	expireAt   int64 // unix nanoseconds; 0 means never
	prev, next *entry
}

var (
	_ store.Store          = (*Store)(nil)
	_ store.ReleaseWatcher = (*Store)(nil)
)

// New returns an empty Store. It returns an error for negative options.
func New(opts Options) (*Store, error) {
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("memstore: MaxBytes must not be negative, got %d", opts.MaxBytes)
	}
	if opts.Shards < 0 {
		return nil, fmt.Errorf("memstore: Shards must not be negative, got %d", opts.Shards)
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Shards == 0 {
		opts.Shards = DefaultShards
	}
	n := 1
	for n < opts.Shards {
		n <<= 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{
		shards: make([]shard, n),
		mask:   uint64(n - 1),
		seed:   maphash.MakeSeed(),
		now:    opts.Now,
	}
	per := opts.MaxBytes / int64(n)
	if per < 1 {
		per = 1
	}
	for i := range s.shards {
		s.shards[i].items = make(map[string]*entry)
		s.shards[i].maxBytes = per
	}
	return s, nil
}

func (s *Store) shardFor(key string) *shard {
	return &s.shards[maphash.String(s.seed, key)&s.mask]
}

func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("memstore: closed: %w", store.ErrUnavailable)
	}
	return ctx.Err()
}

func (s *Store) nowNano() int64 { return s.now().UnixNano() }

func expireAt(now int64, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return now + int64(ttl)
}

func (e *entry) expired(now int64) bool { return e.expireAt != 0 && now >= e.expireAt }

func (e *entry) size() int64 { return int64(len(e.key)+len(e.value)) + entryOverhead }

// lookup returns the live entry for key, removing it if it has expired.
// The caller holds sh.mu.
func (sh *shard) lookup(key string, now int64) *entry {
	e := sh.items[key]
	if e == nil {
		return nil
	}
	if e.expired(now) {
		sh.remove(e)
		return nil
	}
	return e
}

func (sh *shard) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		sh.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		sh.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (sh *shard) pushFront(e *entry) {
	e.next = sh.head
	if sh.head != nil {
		sh.head.prev = e
	}
	sh.head = e
	if sh.tail == nil {
		sh.tail = e
	}
}

func (sh *shard) touch(e *entry) {
	if sh.head == e {
		return
	}
	sh.unlink(e)
	sh.pushFront(e)
}

func (sh *shard) remove(e *entry) {
	sh.unlink(e)
	delete(sh.items, e.key)
	sh.bytes -= e.size()
}

// set stores key and returns how many entries it evicted. The caller holds
// sh.mu and has checked that the entry fits in the shard.
func (sh *shard) set(key string, value []byte, exp int64) int64 {
	v := make([]byte, len(value))
	copy(v, value)
	if old := sh.items[key]; old != nil {
		sh.remove(old)
	}
	e := &entry{key: key, value: v, expireAt: exp}
	sh.items[key] = e
	sh.pushFront(e)
	sh.bytes += e.size()
	var evicted int64
	for sh.bytes > sh.maxBytes && sh.tail != nil && sh.tail != e {
		sh.remove(sh.tail)
		evicted++
	}
	return evicted
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := s.check(ctx); err != nil {
		return nil, false, err
	}
	now := s.nowNano()
	sh := s.shardFor(key)
	sh.mu.Lock()
	e := sh.lookup(key, now)
	if e == nil {
		sh.mu.Unlock()
		return nil, false, nil
	}
	sh.touch(e)
	v := make([]byte, len(e.value))
	copy(v, e.value)
	sh.mu.Unlock()
	return v, true, nil
}

// GetMany implements store.Store.
func (s *Store) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, ok, _ := s.Get(ctx, k)
		if ok {
			out[i] = v
		}
	}
	return out, nil
}

// Set implements store.Store. A value larger than one shard's budget fails
// with store.ErrValueTooLarge and writes nothing.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	sh := s.shardFor(key)
	if size := int64(len(key)+len(value)) + entryOverhead; size > sh.maxBytes {
		return fmt.Errorf("memstore: entry of %d bytes exceeds shard budget of %d: %w", size, sh.maxBytes, store.ErrValueTooLarge)
	}
	now := s.nowNano()
	sh.mu.Lock()
	ev := sh.set(key, value, expireAt(now, ttl))
	sh.mu.Unlock()
	if ev > 0 {
		s.evictions.Add(ev)
	}
	return nil
}

// SetMany implements store.Store. It checks every entry's size first, so
// that one oversized entry writes nothing at all.
func (s *Store) SetMany(ctx context.Context, entries []store.Entry) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	for _, e := range entries {
		if size := int64(len(e.Key)+len(e.Value)) + entryOverhead; size > s.shardFor(e.Key).maxBytes {
			return fmt.Errorf("memstore: entry %q of %d bytes exceeds shard budget: %w", e.Key, size, store.ErrValueTooLarge)
		}
	}
	for _, e := range entries {
		if err := s.Set(ctx, e.Key, e.Value, e.TTL); err != nil {
			return err
		}
	}
	return nil
}

// SetNX implements store.Store.
func (s *Store) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, fmt.Errorf("memstore: SetNX needs a positive TTL, got %v", ttl)
	}
	sh := s.shardFor(key)
	if size := int64(len(key)+len(value)) + entryOverhead; size > sh.maxBytes {
		return false, fmt.Errorf("memstore: entry of %d bytes exceeds shard budget of %d: %w", size, sh.maxBytes, store.ErrValueTooLarge)
	}
	now := s.nowNano()
	sh.mu.Lock()
	if sh.lookup(key, now) != nil {
		sh.mu.Unlock()
		return false, nil
	}
	ev := sh.set(key, value, expireAt(now, ttl))
	sh.mu.Unlock()
	if ev > 0 {
		s.evictions.Add(ev)
	}
	return true, nil
}

// DeleteIfEqual implements store.Store.
func (s *Store) DeleteIfEqual(ctx context.Context, key string, value []byte) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	now := s.nowNano()
	sh := s.shardFor(key)
	sh.mu.Lock()
	e := sh.lookup(key, now)
	if e == nil || string(e.value) != string(value) {
		sh.mu.Unlock()
		return false, nil
	}
	sh.remove(e)
	sh.mu.Unlock()
	s.releases.Announce(key)
	return true, nil
}

// WatchRelease implements store.ReleaseWatcher: DeleteIfEqual announces
// its releases to this store's watchers.
func (s *Store) WatchRelease(key string) (<-chan struct{}, func()) {
	return s.releases.Watch(key)
}

// SetIfNewer implements store.Store. The two keys may live in different
// shards, so versioned writes take a store-wide lock among themselves.
func (s *Store) SetIfNewer(ctx context.Context, key, verKey string, value []byte, version uint64, ttl time.Duration) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, fmt.Errorf("memstore: SetIfNewer needs a positive TTL, got %v", ttl)
	}
	s.versioned.Lock()
	defer s.versioned.Unlock()
	cur, found, err := s.Get(ctx, verKey)
	if err != nil {
		return false, err
	}
	enc := fmt.Appendf(nil, "%020d", version)
	if found && string(cur) >= string(enc) {
		return false, nil
	}
	if err := s.Set(ctx, key, value, ttl); err != nil {
		return false, err
	}
	return true, s.Set(ctx, verKey, enc, ttl)
}

// GetEx implements store.Store.
func (s *Store) GetEx(ctx context.Context, key string, ttl time.Duration) ([]byte, bool, error) {
	if err := s.check(ctx); err != nil {
		return nil, false, err
	}
	if ttl <= 0 {
		return nil, false, fmt.Errorf("memstore: GetEx needs a positive TTL, got %v", ttl)
	}
	now := s.nowNano()
	sh := s.shardFor(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(key, now)
	if e == nil {
		return nil, false, nil
	}
	e.expireAt = expireAt(now, ttl)
	sh.touch(e)
	v := make([]byte, len(e.value))
	copy(v, e.value)
	return v, true, nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, keys ...string) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	now := s.nowNano()
	var n int64
	for _, k := range keys {
		sh := s.shardFor(k)
		sh.mu.Lock()
		if e := sh.lookup(k, now); e != nil {
			sh.remove(e)
			n++
		}
		sh.mu.Unlock()
	}
	return n, nil
}

// Exists implements store.Store.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	now := s.nowNano()
	sh := s.shardFor(key)
	sh.mu.Lock()
	e := sh.lookup(key, now)
	sh.mu.Unlock()
	return e != nil, nil
}

// TTL implements store.Store.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	if err := s.check(ctx); err != nil {
		return 0, false, err
	}
	now := s.nowNano()
	sh := s.shardFor(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(key, now)
	switch {
	case e == nil:
		return 0, false, nil
	case e.expireAt == 0:
		return store.NoExpiry, true, nil
	default:
		return time.Duration(e.expireAt - now), true, nil
	}
}

// Expire implements store.Store.
func (s *Store) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, fmt.Errorf("memstore: Expire needs a positive TTL, got %v", ttl)
	}
	now := s.nowNano()
	sh := s.shardFor(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(key, now)
	if e == nil {
		return false, nil
	}
	e.expireAt = expireAt(now, ttl)
	return true, nil
}

// DeletePrefix implements store.Store. It holds each shard's lock for at
// most batch keys at a time, so a large clear does not stall readers.
func (s *Store) DeletePrefix(ctx context.Context, prefix string, batch int) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if batch <= 0 {
		batch = 1000
	}
	var n int64
	for i := range s.shards {
		sh := &s.shards[i]
		for {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			removed := 0
			sh.mu.Lock()
			for k, e := range sh.items {
				if strings.HasPrefix(k, prefix) {
					sh.remove(e)
					removed++
					if removed == batch {
						break
					}
				}
			}
			sh.mu.Unlock()
			n += int64(removed)
			if removed < batch {
				break
			}
		}
	}
	return n, nil
}

// maxRosterMembers bounds a roster, as the store's budget bounds values.
const maxRosterMembers = 1 << 16

// Announce implements store.Store.
func (s *Store) Announce(ctx context.Context, key, member string, ttl time.Duration) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("memstore: Announce needs a positive TTL, got %v", ttl)
	}
	now := s.nowNano()
	s.rosterMu.Lock()
	defer s.rosterMu.Unlock()
	if s.rosters == nil {
		s.rosters = map[string]map[string]int64{}
	}
	r := s.rosters[key]
	if r == nil {
		r = map[string]int64{}
		s.rosters[key] = r
	}
	forgetExpired(r, now)
	if _, ok := r[member]; !ok && len(r) >= maxRosterMembers {
		return fmt.Errorf("memstore: roster %q is full (%d members): %w", key, maxRosterMembers, store.ErrRefused)
	}
	r[member] = expireAt(now, ttl)
	return nil
}

// Members implements store.Store.
func (s *Store) Members(ctx context.Context, key string, limit int) ([]store.Member, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.rosterMu.Lock()
	defer s.rosterMu.Unlock()
	r := s.rosters[key]
	now := s.nowNano()
	forgetExpired(r, now)
	var out []store.Member
	for m, exp := range r {
		if len(out) == limit {
			break
		}
		out = append(out, store.Member{Name: m, TTL: time.Duration(exp - now)})
	}
	if len(r) == 0 {
		delete(s.rosters, key)
	}
	return out, nil
}

func forgetExpired(r map[string]int64, now int64) {
	for m, exp := range r {
		if exp <= now {
			delete(r, m)
		}
	}
}

// Describe implements store.Describer.
func (s *Store) Describe() store.Description { return store.Description{Backend: "memory"} }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return s.check(ctx) }

// Close implements store.Store. It drops every entry.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.items = map[string]*entry{}
		sh.head, sh.tail, sh.bytes = nil, nil, 0
		sh.mu.Unlock()
	}
	return nil
}

// Len returns the number of entries held, expired ones not yet removed
// included.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.items)
		sh.mu.Unlock()
	}
	return n
}

// Bytes returns the memory accounted against MaxBytes.
func (s *Store) Bytes() int64 {
	var n int64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.bytes
		sh.mu.Unlock()
	}
	return n
}

// Evictions returns how many entries were evicted to stay within MaxBytes.
func (s *Store) Evictions() int64 { return s.evictions.Load() }
