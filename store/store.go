// Package store defines the byte-level storage contract that every
// tradecache backend implements.
//
// A Store knows nothing about namespaces, codecs or trading: it moves opaque
// bytes under fully qualified keys. Keeping it this small is what lets one
// conformance suite (package storetest) prove that the embedded memstore and
// the Redis store behave the same, so that tests written against memstore
// mean something in production.
//
// Every method that can block takes a context. Implementations report a
// backend that cannot be reached with an error that matches ErrUnavailable and
// a call that ran out of time with one that matches ErrTimeout, so that the
// layers above can degrade without parsing error strings.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Sentinel errors shared by every Store. The tradecache package re-exports
// them, so callers never need to import this package to test for them.
var (
	// ErrUnavailable means the backend could not be reached: the connection
	// was refused, reset or closed, or the store itself was closed.
	ErrUnavailable = errors.New("tradecache: store unavailable")
	// ErrTimeout means the call's deadline passed before the backend
	// answered. Errors that match it also match context.DeadlineExceeded.
	ErrTimeout = errors.New("tradecache: store timeout")
	// ErrValueTooLarge means a value can never fit in the store (for
	// memstore, larger than a shard's byte budget). Nothing was written.
	ErrValueTooLarge = errors.New("tradecache: value too large for store")
	// ErrNoPermission means Redis refused the command for this user's ACL
	// (NOPERM): a key outside the user's pattern, or a denied command.
	ErrNoPermission = errors.New("tradecache: no permission")
	// ErrRefused means the server is up and answering but refused the
	// command for its own state: out of memory (OOM), a read-only replica
	// (READONLY), a cluster without full coverage (CLUSTERDOWN), a master
	// lost by its replica (MASTERDOWN), a dataset still loading (LOADING),
	// a script running (BUSY), failed persistence (MISCONF), too few
	// replicas (NOREPLICAS), a slot mid-migration (TRYAGAIN). The server's
	// reply is kept in the error chain.
	ErrRefused = errors.New("tradecache: refused by the server")
	// ErrAuth means Redis refused the credentials (WRONGPASS, NOAUTH).
	ErrAuth = errors.New("tradecache: authentication failed")
)

// NoExpiry is the TTL reported for a key that exists but never expires.
const NoExpiry time.Duration = -1

// Entry is one key and value for SetMany.
type Entry struct {
	Key   string
	Value []byte
	// TTL is the entry's time to live; zero or less means no expiry.
	TTL time.Duration
}

// Store is the byte-level backend under a tradecache.Cache.
//
// Keys are fully qualified (prefix and namespace included) and already
// validated by the caller. An implementation that keeps a value passed in
// must copy it. A caller may reuse a value's buffer once the call has
// returned nil; after an error it must not, because the implementation may
// still be sending it (rueidis returns early on a cancelled ctx and writes
// the queued command later). Values returned belong to the caller, who must
// treat them as read-only.
// Member is a live member of a roster (Store.Announce) and the time it
// has left before it expires, by the server's clock.
type Member struct {
	Name string
	TTL  time.Duration
}

type Store interface {
	// Get returns the value under key. A missing or expired key is not an
	// error: found is false.
	Get(ctx context.Context, key string) (value []byte, found bool, err error)
	// GetMany returns one slot per key, in order, in a single round trip
	// (on a Redis Cluster, one round trip per node, in parallel). A missing
	// key's slot is nil; an existing empty value is non-nil. A store in
	// parts may return the values it could read with a *PartialError.
	GetMany(ctx context.Context, keys []string) ([][]byte, error)
	// Set stores value under key. ttl <= 0 means no expiry.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// SetMany stores every entry in a single round trip (pipelined). When
	// some entries fail and others are written it may return a
	// *PartialError naming the failed ones.
	SetMany(ctx context.Context, entries []Entry) error
	// Delete removes the keys and returns how many existed. When some
	// keys' deletes fail and others succeed it may return the count of
	// those that did with a *PartialError naming the others, which may
	// still exist.
	Delete(ctx context.Context, keys ...string) (int64, error)
	// Exists reports whether key exists and has not expired.
	Exists(ctx context.Context, key string) (bool, error)
	// TTL returns the remaining time to live of key: NoExpiry when it has
	// none, and found false when the key does not exist.
	TTL(ctx context.Context, key string) (ttl time.Duration, found bool, err error)
	// Expire sets a new TTL (> 0) on an existing key and reports whether
	// the key existed.
	Expire(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// SetNX stores value under key only if key does not exist, and reports
	// whether it did. ttl must be positive. It is the acquire step of the
	// short per-key locks that stop load stampedes across processes.
	SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// DeleteIfEqual removes key only if it holds exactly value, atomically,
	// and reports whether it did: the release step of those locks, which
	// must never remove a lock another process took after this one's
	// expired.
	DeleteIfEqual(ctx context.Context, key string, value []byte) (bool, error)
	// SetIfNewer stores value under key only if version is greater than
	// the version recorded under verKey (none counts as lower), and then
	// records version there; both get ttl. It is atomic, so a late or
	// out-of-order writer can never replace newer data, and it reports
	// whether the write was applied. On a Redis Cluster verKey must hash
	// to key's slot (internal/keyslot.Companion names such a key).
	SetIfNewer(ctx context.Context, key, verKey string, value []byte, version uint64, ttl time.Duration) (bool, error)
	// GetEx returns the value under key and, if it exists, sets its TTL to
	// ttl in the same step (GETEX): a sliding expiry in one round trip.
	GetEx(ctx context.Context, key string, ttl time.Duration) ([]byte, bool, error)
	// DeletePrefix removes every key that starts with prefix, batch keys
	// at a time, and returns how many it removed. The Redis store uses SCAN
	// MATCH and UNLINK (on every master of a cluster); it never uses KEYS,
	// FLUSHDB or FLUSHALL.
	DeletePrefix(ctx context.Context, prefix string, batch int) (int64, error)
	// Announce records member in the roster under key for ttl (> 0) from
	// now, by the server's clock, so that writers on hosts whose clocks
	// disagree still agree on who is live. A member announced again is
	// kept for ttl from the latest announcement.
	Announce(ctx context.Context, key, member string, ttl time.Duration) error
	// Members returns at most limit live members of the roster under key,
	// in no set order, each with the time it has left, and forgets the
	// expired ones. It is how processes find one another's published
	// figures without a SCAN of the keyspace, and, from the time left, how
	// long ago each last announced itself, by the server's clock alone.
	Members(ctx context.Context, key string, limit int) ([]Member, error)
	// Ping checks that the backend answers.
	Ping(ctx context.Context) error
	// Close releases the store's resources. Calls after Close fail with
	// ErrUnavailable.
	Close() error
}

// InfoReader is implemented by stores that can report server figures
// (the Redis store: INFO). Stats uses it when present.
type InfoReader interface {
	Info(ctx context.Context, sections ...string) (string, error)
}

// Describer is implemented by stores that can say what they are, for a
// Cache's Stats and Health: a store knows its own connections better than
// any layer above it could work them out.
type Describer interface {
	Describe() Description
}

// Description is what a Describer reports.
type Description struct {
	Backend  string // "redis", "memory", ...
	Topology string // for Redis: standalone, sentinel or cluster
	// PipelinedConnections is how many connections carry ordinary
	// commands, per node when PerNode (a cluster); BlockingPoolSize bounds
	// the pool for blocking commands. Both 0 for an in-process store.
	PipelinedConnections int
	PerNode              bool
	BlockingPoolSize     int
}

// CachedReader is implemented by stores with server-assisted client-side
// caching (the Redis store: RESP3 CLIENT TRACKING through rueidis DoCache).
// A key read with GetCached is tracked: when any client changes it, the
// server sends an invalidation, which reaches the cache's near tier.
type CachedReader interface {
	// GetCached returns the value and the time the client-side copy stops
	// being valid: the sooner of the key's own expiry and ttl from now.
	GetCached(ctx context.Context, key string, ttl time.Duration) (value []byte, found bool, validUntil time.Time, err error)
	// GetManyCached is GetCached for many keys in one round trip (on a
	// Redis Cluster, one per node, in parallel): one slot per key as
	// GetMany returns them, and when each copy stops being valid. Like
	// GetMany it may return what it read with a *PartialError.
	GetManyCached(ctx context.Context, keys []string, ttl time.Duration) (values [][]byte, validUntil []time.Time, err error)
}

// ReleaseWatcher is implemented by stores that announce each DeleteIfEqual
// that removed its key (the release of a get-or-load lock) to every process
// on the same server, this one included, so that a process waiting for
// another's lock wakes the moment the holder lets go rather than polling.
// Announcements are at most once (a subscription being re-established
// misses some), and a lock that expires is not announced: a waiter still
// looks now and then.
type ReleaseWatcher interface {
	// WatchRelease returns a channel closed when key is next released,
	// and stop, which withdraws the watch; call it when done.
	WatchRelease(key string) (released <-chan struct{}, stop func())
}

// Partitioner is implemented by a store whose parts fail separately, such
// as a Redis Cluster, so that package guard can keep a circuit breaker per
// part. Partitions returns how many parts there are (1 or less means one
// breaker for all), a name for each part's breaker, and the part of a
// key, in [0, n).
type Partitioner interface {
	Partitions() (n int, name func(part int) string, part func(key string) int)
}

// PartialError is returned by GetMany when some of its keys could not be
// read, because the part of the store that holds them (a Redis Cluster
// shard) is down, while the others were: the values of the others are
// returned beside it, and Failed lists the indexes, into the keys asked
// for, of those that were not read. SetMany returns one when some entries
// were written and others not, and Delete when some keys were removed and
// others not; Failed then indexes the entries or keys.
//
// Errs[i] is why entry Failed[i] failed: an error wrapping ErrUnavailable
// or ErrTimeout when its node could not be reached, or the server's own
// reply (a cluster answers CLUSTERDOWN on every shard while it marks a
// master failed, so one batch can fail for two reasons). errors.Is and
// errors.As see through a PartialError to each distinct cause. When no key
// at all could be read for one reason, the store returns that plain error
// instead; when every key failed, but for different reasons, it returns a
// PartialError naming them all, so that each part's breaker is told its
// own keys' outcome.
type PartialError struct {
	Failed []int   // ascending
	Errs   []error // Errs[i] is the cause of Failed[i]
}

// NewPartialError returns a PartialError for entries failed[i] with causes
// errs[i], in any order; it sorts them by index.
func NewPartialError(failed []int, errs []error) *PartialError {
	if len(failed) != len(errs) {
		panic(fmt.Sprintf("store: NewPartialError with %d indexes and %d causes", len(failed), len(errs)))
	}
	e := &PartialError{Failed: failed, Errs: errs}
	if !slices.IsSorted(failed) {
		sort.Sort(byIndex{e})
	}
	return e
}

type byIndex struct{ *PartialError }

func (b byIndex) Len() int           { return len(b.Failed) }
func (b byIndex) Less(i, j int) bool { return b.Failed[i] < b.Failed[j] }
func (b byIndex) Swap(i, j int) {
	b.Failed[i], b.Failed[j] = b.Failed[j], b.Failed[i]
	b.Errs[i], b.Errs[j] = b.Errs[j], b.Errs[i]
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d entries failed: %s", len(e.Failed), Summarize(e.Errs))
}

// Unwrap returns the distinct causes, for errors.Is and errors.As.
func (e *PartialError) Unwrap() []error {
	causes, _ := Tally(e.Errs)
	return causes
}

// Has reports whether entry i failed.
func (e *PartialError) Has(i int) bool {
	if e == nil {
		return false
	}
	_, found := slices.BinarySearch(e.Failed, i)
	return found
}

// Cause returns why entry i failed, or nil if it did not. A nil
// *PartialError has no failed entries.
func (e *PartialError) Cause(i int) error {
	if e == nil {
		return nil
	}
	if j, found := slices.BinarySearch(e.Failed, i); found {
		return e.Errs[j]
	}
	return nil
}

// Tally returns the distinct errors of errs, in the order they first
// appear, and how many times each appears. Errors with the same message
// count as one: a shard's failure reaches every key of it as a separate
// but identical reply.
func Tally(errs []error) (causes []error, counts []int) {
	var msgs []string
	for _, err := range errs {
		msg := err.Error()
		i := slices.Index(msgs, msg)
		if i < 0 {
			causes, counts, msgs = append(causes, err), append(counts, 0), append(msgs, msg)
			i = len(causes) - 1
		}
		counts[i]++
	}
	return causes, counts
}

// Summarize describes errs by distinct cause: "cause (N)", joined by "; ".
func Summarize(errs []error) string {
	causes, counts := Tally(errs)
	var b strings.Builder
	for i, c := range causes {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%v (%d)", c, counts[i])
	}
	return b.String()
}
