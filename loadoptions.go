package tradecache

import (
	"context"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"time"

	"github.com/tradecache/tradecache/codec"
)

// Source says where a GetOrLoad result came from.
type Source uint8

// The sources of a result.
const (
	// SourceStore: read from the store (Redis, or the in-memory store)
	// in this call.
	SourceStore Source = iota + 1
	// SourceLocal: this process's memory of a value it loaded or read
	// earlier, served only because the store could not be reached, and
	// so always with Meta.Stale set. Nothing invalidates it; MaxStale
	// bounds its age.
	SourceLocal
	// SourceLoader: the loader, in this call or in the load it joined.
	SourceLoader
	// SourceNear: the namespace's near tier, a fresh value held in
	// process and dropped as soon as the server reports a change to its
	// key (tracked reads), served without a round trip. Never stale.
	SourceNear
)

func (s Source) String() string {
	switch s {
	case SourceStore:
		return "store"
	case SourceLocal:
		return "local"
	case SourceLoader:
		return "loader"
	case SourceNear:
		return "near"
	}
	return "unknown"
}

// Meta describes a GetOrLoad result. It costs no extra round trip: the age
// comes from the stamp stored with the value.
type Meta struct {
	Source Source
	// AsOf is when the value was loaded; zero for a value written by Set,
	// which carries no stamp.
	AsOf time.Time
	// Age is how old the value was when it was returned.
	Age time.Duration
	// Stale is true when the value is past its freshness and was served
	// only because the loader or the store failed; Err says which. A stale
	// value is never older than the namespace's MaxStale past its
	// freshness, and is never returned without this flag.
	Stale bool
	Err   error
}

// LoadOption adjusts one GetOrLoad, GetManyOrLoad or Memoize call. Unset
// options take the namespace's NamespaceConfig.
type LoadOption func(*loadOpts)

type loadOpts struct {
	ttl, maxStale, negTTL    time.Duration
	jitter, beta             float64
	lock                     bool
	lockTTL, lockWait        time.Duration
	loadTimeout, lockPoll    time.Duration
	softTimeout, hardTimeout time.Duration
	tags                     []string
}

// Get-or-load's defaults for what LoadOptions leave unset.
const (
	DefaultLoadTimeout = 30 * time.Second // WithLoadTimeout
	DefaultLockTTL     = 5 * time.Second  // WithLock's ttl
	DefaultLockWait    = 3 * time.Second  // WithLock's wait
)

// lockPoll is how often a process waiting on another's lock looks for
// the value it is loading, over a store that cannot announce releases
// (store.ReleaseWatcher); lockLook is how often it looks over one that
// can, where the release wakes it and the look only covers a missed
// announcement or a lock that expired with its holder.
const (
	lockPoll = 5 * time.Millisecond
	lockLook = 100 * time.Millisecond
)

// WithTags tags the loaded value: InvalidateTag of any of them makes it
// absent, on every instance. The tags' tokens are read before the loader
// runs, so a value computed across an invalidation is not current when
// stored (see the package's notes on tags). Tags follow the key rules, at
// most 256 bytes each and codec.MaxTags in all.
func WithTags(tags ...string) LoadOption {
	return func(o *loadOpts) { o.tags = append(o.tags[:len(o.tags):len(o.tags)], tags...) }
}

// WithTTL sets how long a loaded value stays fresh.
func WithTTL(d time.Duration) LoadOption { return func(o *loadOpts) { o.ttl = d } }

// WithJitter spreads the TTL by ±frac (0.1 is ±10%), so keys loaded
// together do not all expire together.
func WithJitter(frac float64) LoadOption { return func(o *loadOpts) { o.jitter = frac } }

// WithMaxStale lets a value be served, flagged stale, for up to d past its
// freshness when the loader or the store fails.
func WithMaxStale(d time.Duration) LoadOption { return func(o *loadOpts) { o.maxStale = d } }

// WithNegativeTTL remembers a loader's ErrNotFound for d.
func WithNegativeTTL(d time.Duration) LoadOption { return func(o *loadOpts) { o.negTTL = d } }

// WithEarlyRefresh turns on probabilistic early refresh (XFetch) with
// weight beta (1 is the paper's default; larger refreshes earlier; 0 is
// off): a read of a fresh value reloads it in the background with a
// probability that rises as expiry nears and as loads get slower, so hot
// keys are reloaded before they expire and never miss. GetOrLoad only:
// GetManyOrLoad refuses it with ErrInvalidArgument.
func WithEarlyRefresh(beta float64) LoadOption { return func(o *loadOpts) { o.beta = beta } }

// WithLock makes processes that miss the same key call the loader once
// between them: the first takes a short Redis lock (SET NX PX with a random
// token, released by compare-and-delete), the others wait for its value
// for up to wait and then call the loader themselves. The release is
// announced (Redis Pub/Sub, channel "tradecache:released"), so a waiter
// reads the value as soon as the holder lets go; it also looks every
// 100 ms, for an announcement it missed or a lock that expired. A holder
// that dies blocks the key for at most ttl. Zero durations mean DefaultLockTTL and
// DefaultLockWait. GetOrLoad only: GetManyOrLoad refuses it with
// ErrInvalidArgument.
func WithLock(ttl, wait time.Duration) LoadOption {
	return func(o *loadOpts) { o.lock, o.lockTTL, o.lockWait = true, ttl, wait }
}

// WithLoadTimeout bounds the loader call (default DefaultLoadTimeout).
// The load runs detached from the callers' contexts, so one caller giving
// up does not fail the others; this bound ends it if they all do.
func WithLoadTimeout(d time.Duration) LoadOption { return func(o *loadOpts) { o.loadTimeout = d } }

// WithSoftTimeout returns a stale value within MaxStale, flagged Stale
// with an ErrLoadTimeout in Meta.Err, when the load has not finished after d
// and such a value exists; the load goes on in the background and stores
// its value when it finishes (bounded by the load timeout). Without a
// stale value, the caller waits on (see WithHardTimeout). Zero is off.
func WithSoftTimeout(d time.Duration) LoadOption { return func(o *loadOpts) { o.softTimeout = d } }

// WithHardTimeout bounds how long the caller waits for a load, whatever
// the loader does (it may ignore its ctx): after d the call returns a
// stale value within MaxStale if there is one, flagged Stale, and
// otherwise an error matching ErrLoadTimeout. The load goes on in the
// background and its value is stored when it finishes (bounded by the load
// timeout), for the next caller. Zero is off.
func WithHardTimeout(d time.Duration) LoadOption { return func(o *loadOpts) { o.hardTimeout = d } }

// waitLoad waits for a load (done), the caller's ctx, the soft timeout
// (only when a stale value can be served instead) and the hard timeout.
// It returns nil when the load finished, and otherwise why the caller
// stops waiting: ctx's error (gaveUp), or an error matching ErrLoadTimeout.
// Either way the load goes on.
func (o *loadOpts) waitLoad(ctx context.Context, done <-chan struct{}, haveStale bool) (gaveUp bool, err error) {
	var soft, hard <-chan time.Time
	if haveStale && o.softTimeout > 0 {
		t := time.NewTimer(o.softTimeout)
		defer t.Stop()
		soft = t.C
	}
	if o.hardTimeout > 0 {
		t := time.NewTimer(o.hardTimeout)
		defer t.Stop()
		hard = t.C
	}
	select {
	case <-done:
		return false, nil
	case <-ctx.Done():
		return true, ctx.Err()
	case <-soft:
		return false, fmt.Errorf("%w: the load is still running after the soft timeout (%v)", ErrLoadTimeout, o.softTimeout)
	case <-hard:
		return false, fmt.Errorf("%w: the load is still running after the hard timeout (%v)", ErrLoadTimeout, o.hardTimeout)
	}
}

// defaultLoadOpts is a namespace's get-or-load policy before per-call
// options; Namespace computes it once.
func defaultLoadOpts(ttl time.Duration, p NamespaceConfig) loadOpts {
	return loadOpts{
		ttl: ttl, maxStale: p.MaxStale, negTTL: p.NegativeTTL, jitter: p.TTLJitter, beta: p.EarlyRefresh,
		softTimeout: p.SoftTimeout, hardTimeout: p.HardTimeout,
		lock: p.Lock, lockTTL: DefaultLockTTL, lockWait: DefaultLockWait, loadTimeout: DefaultLoadTimeout, lockPoll: lockPoll,
	}
}

func (o *loadOpts) validate(op, ns, key string) error {
	switch {
	case o.ttl < 0 || o.maxStale < 0 || o.negTTL < 0 || o.loadTimeout <= 0 || o.softTimeout < 0 || o.hardTimeout < 0:
		return invalidArg(op, ns, key, "negative TTL, staleness or timeout")
	case o.lockTTL < 0 || o.lockWait < 0:
		return invalidArg(op, ns, key, "negative lock TTL %v or wait %v", o.lockTTL, o.lockWait)
	case o.ttl > MaxTTL || o.maxStale > MaxTTL || o.negTTL > MaxTTL || o.lockTTL > MaxTTL:
		return invalidArg(op, ns, key, "a TTL or staleness over MaxTTL (%v)", MaxTTL)
	case o.jitter < 0 || o.jitter >= 1 || math.IsNaN(o.jitter):
		return invalidArg(op, ns, key, "jitter %v outside [0, 1)", o.jitter)
	case o.beta < 0 || math.IsNaN(o.beta) || math.IsInf(o.beta, 0):
		return invalidArg(op, ns, key, "early-refresh beta %v", o.beta)
	case len(o.tags) > codec.MaxTags:
		return invalidArg(op, ns, key, "%d tags, over %d", len(o.tags), codec.MaxTags)
	}
	for _, t := range o.tags {
		if reason := checkKey(t, codec.MaxTagBytes); reason != "" {
			return invalidArg(op, ns, key, "tag %q: %s", t, reason)
		}
	}
	return nil
}

// MaxClockSkew is how far ahead of this process's clock a stamp's load
// time may be and still be believed: clocks of different hosts disagree
// by milliseconds under NTP; a stamp further ahead was written by a broken
// clock or a hostile writer, and the value is treated as absent.
const MaxClockSkew = 5 * time.Second

// errFutureStamp is why a value stamped too far ahead is not served.
var errFutureStamp = errors.New("stamped more than MaxClockSkew in the future")

// trust bounds a stamp read from the store. A load time more than
// MaxClockSkew ahead is not believed (ok false). A freshness longer than
// this call's policy could have given (its TTL with the jitter, or its
// negative TTL) is cut to it, so no stamp, written in 1970 with a
// freshness of centuries, stays fresh forever.
func (o *loadOpts) trust(st codec.Stamp, now time.Time) (codec.Stamp, bool) {
	if st.AsOf.After(now.Add(MaxClockSkew)) {
		return st, false
	}
	limit := o.ttl + time.Duration(float64(o.ttl)*o.jitter)
	if st.Negative && o.negTTL > 0 {
		limit = o.negTTL
	}
	st.FreshFor = min(st.FreshFor, limit)
	return st, true
}

// age is how old a value loaded at asOf is at now: never negative, even
// for a stamp a little ahead of this process's clock.
func age(now, asOf time.Time) time.Duration { return max(0, now.Sub(asOf)) }

// freshFor applies the jitter to the TTL.
func (o *loadOpts) freshFor() time.Duration {
	if o.jitter == 0 {
		return o.ttl
	}
	return time.Duration(float64(o.ttl) * (1 + o.jitter*(2*mrand.Float64()-1)))
}

// shouldRefresh is XFetch: refresh when now - delta*beta*ln(U) reaches the
// expiry. delta is the measured load time, floored at 2.5% of the freshness
// so that a very fast loader still refreshes with time to spare (25ms for
// a 1s TTL) rather than racing the expiry on a busy machine.
func (o *loadOpts) shouldRefresh(now time.Time, st codec.Stamp) bool {
	if o.beta == 0 {
		return false
	}
	delta := max(st.LoadTime, st.FreshFor/40)
	u := 1 - mrand.Float64() // (0, 1]
	return now.Add(time.Duration(float64(delta) * o.beta * -math.Log(u))).After(st.FreshUntil())
}
