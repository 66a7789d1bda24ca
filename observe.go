package tradecache

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tradecache/tradecache/internal/hist"
	"github.com/tradecache/tradecache/internal/mono"
)

// opKind indexes per-operation statistics. Operations are a fixed, small
// set, so they are safe as metric labels; keys never are.
type opKind uint8

const (
	opGet opKind = iota
	opSet
	opDelete
	opExists
	opTTL
	opExpire
	opGetMany
	opSetMany
	opClear
	opGetOrLoad
	opTouch
	numOps
)

var opNames = [numOps]string{"get", "set", "delete", "exists", "ttl", "expire", "get_many", "set_many", "clear", "get_or_load", "touch"}

func opIndex(op string) (opKind, bool) {
	for i, n := range opNames {
		if n == op {
			return opKind(i), true
		}
	}
	return 0, false
}

// recorder holds the latency histograms and error counts. Recording is
// lock-free: an atomic add per histogram bucket and counter.
type recorder struct {
	lat    [numOps]hist.Histogram
	errs   [numOps]atomic.Uint64
	byKind [numErrKinds]atomic.Uint64
}

// nsCounters are one namespace's counts, and the latency of its store
// calls when metrics are on and the namespace is one of the first
// MaxNamespaceMetrics (made on its first call: a name that is only looked
// up costs nothing). label is its name in metrics and spans: "_other"
// past MaxNamespaces, so that names derived from user IDs cannot grow the
// metrics' label values without bound.
type nsCounters struct {
	hits, misses, sets, deletes, errors atomic.Uint64
	lat                                 atomic.Pointer[hist.Histogram]
	keepLat                             bool
	label                               string
}

// totals are the Cache's counts over every namespace.
type totals struct {
	hits, misses, sets, deletes, errors atomic.Uint64
}

// observer records what the I/O path does: counts, latency histograms
// (when metrics are on), OpenTelemetry spans and metrics (when configured),
// slow operations and failed writes in the log. It knows operations by
// kind and namespace name, never keys: a key is hashed before it is
// logged, so that no session token or account id leaks.
type observer struct {
	total         totals
	rec           *recorder  // nil when EnableMetrics is off
	otel          *otelHooks // nil unless WithOpenTelemetry
	log           *slog.Logger
	logSlow       bool
	slowThreshold time.Duration
	timing        bool     // time operations: slow-op logs, metrics or spans need it
	warned        sync.Map // message -> *rateLimit
}

// stamp is when an operation started: a mono reading plus one (zero means
// not timed). The I/O path hands the same reading to the guard, which
// bounds the call from it: a timed hit reads the clock twice, at its start
// and its end, and an untimed one once, in the guard.
type stamp int64

// start is the start of an operation's clock, or zero when nothing needs
// its latency.
func (o *observer) start() stamp {
	if o.timing {
		return stamp(mono.Now()) + 1
	}
	return 0
}

// since is how long ago start was.
func (s stamp) since() time.Duration { return mono.Now() - time.Duration(s-1) }

// time is start as a time.Time, for a span's timestamp.
func (s stamp) time() time.Time { return mono.Time(time.Duration(s - 1)) }

// at is start as the mono reading the guard takes (GetAt), or 0.
func (s stamp) at() time.Duration {
	if s == 0 {
		return 0
	}
	return time.Duration(s - 1)
}

// observe records a store call of kind k in namespace ns (counted in
// counts too): its latency, a failure (counted by kind; failed writes also
// logged, rate-limited, since a write is never retried and the log is
// where it is seen; a delete or clear that could not reach the store is
// queued instead, and logged as such) and a slow operation.
func (o *observer) observe(ctx context.Context, name string, counts *nsCounters, k opKind, key string, start stamp, size int, err error) {
	ns := counts.label
	if ns == "" {
		ns = name
	}
	op := opNames[k]
	if err != nil {
		o.failed(counts, k, err)
		switch {
		case (k == opDelete || k == opClear) && queueable(err):
			// Queued and applied later (durable invalidation): the I/O
			// path logs that, and it is not a write given up.
		case errors.Is(err, context.Canceled):
			// The caller gave up (a worker stopping): nothing to warn of.
		case k == opSet, k == opSetMany, k == opDelete, k == opExpire, k == opClear:
			o.warnLimited("tradecache: write failed, not retried", "op", op, "namespace", ns, "error", err)
		}
	}
	if !o.timing || start == 0 {
		return
	}
	d := start.since()
	if o.rec != nil {
		o.rec.lat[k].Record(d)
		if counts.keepLat {
			h := counts.lat.Load()
			if h == nil {
				counts.lat.CompareAndSwap(nil, new(hist.Histogram))
				h = counts.lat.Load()
			}
			h.Record(d)
		}
	}
	if o.otel != nil {
		o.otel.record(ctx, op, ns, start.time(), err)
	}
	if o.logSlow && d >= o.slowThreshold {
		o.log.Warn("tradecache: slow operation", "op", op, "namespace", ns,
			"key_hash", KeyHash(key), "duration", d, "bytes", size, "error", err)
	}
}

// KeyHash is how the layer names a key where the key itself must not
// appear (a session token, an account id): the slow-operation log's
// key_hash and the hot keys of `tradecache top`. It is FNV-1a 64 of the
// caller's key, in hex, so that an operator can hash a suspect key and
// look for it.
func KeyHash(key string) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	return fmt.Sprintf("%016x", h.Sum64())
}

// failed counts an error of kind k (with no latency: serialization errors
// and the like happen outside the store call).
func (o *observer) failed(counts *nsCounters, k opKind, err error) {
	o.total.errors.Add(1)
	counts.errors.Add(1)
	if o.rec != nil {
		o.rec.errs[k].Add(1)
		o.rec.byKind[errKind(err)].Add(1)
	}
}

// warnLimited logs a warning at most once per second per message, with
// how many were suppressed since: during an outage every call fails, and a
// log line per call would bury the one that matters.
func (o *observer) warnLimited(msg string, args ...any) {
	v, _ := o.warned.LoadOrStore(msg, &rateLimit{})
	rl := v.(*rateLimit)
	now := time.Now().UnixNano()
	last := rl.last.Load()
	if now-last < int64(time.Second) || !rl.last.CompareAndSwap(last, now) {
		rl.suppressed.Add(1)
		return
	}
	o.log.Warn(msg, append(args, "suppressed_since_last", rl.suppressed.Swap(0))...)
}

type rateLimit struct {
	last       atomic.Int64
	suppressed atomic.Int64
}
