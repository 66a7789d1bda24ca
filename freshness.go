package tradecache

import (
	"context"
	"time"

	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/sizeof"
)

// verdict is what a read value is worth to get-or-load. judge is the one
// rule: GetOrLoad's read, GetManyOrLoad's batch, a load's second look
// under the lock, the near tier and the last known values all apply it.
type verdict uint8

const (
	absent      verdict = iota // nothing to serve: load
	fresh                      // serve it (a value written by Set, with no stamp, is fresh while it exists)
	freshMiss                  // a remembered miss, still fresh: ErrNotFound without loading
	staleUsable                // past its freshness but within MaxStale: load, and serve it if the load fails
)

// judge applies the freshness rule at now to a read that found a value or
// not, with its stamp.
func judge(found bool, st stampInfo, now time.Time, maxStale time.Duration) verdict {
	switch {
	case !found:
		return absent
	case !st.stamped:
		return fresh
	case now.Before(st.FreshUntil()):
		if st.Negative {
			return freshMiss
		}
		return fresh
	case !st.Negative && now.Before(st.FreshUntil().Add(maxStale)):
		return staleUsable
	}
	return absent
}

// judgeStamp is judge of a value known to carry stamp st.
func judgeStamp(st codec.Stamp, now time.Time, maxStale time.Duration) verdict {
	return judge(true, stampInfo{st, true, nil}, now, maxStale)
}

// lastKnown is this process's last known value of full, when the store
// cannot be read and it is still worth serving (fresh, or stale within
// maxStale), or nil.
func lastKnown[T any](ns *Namespace, full string, now time.Time, maxStale time.Duration) *knownValue {
	kv, ok := ns.c.known.Get(full, now)
	if !ok {
		return nil
	}
	if _, ok := kv.v.(T); !ok {
		return nil
	}
	// Never a value this process invalidated, even stale: a queued delete
	// or clear of its key, a queued invalidation of one of its tags, or a
	// tag whose token this process saw move.
	if ns.awaitsInvalidation(full) || kv.tags != nil && !ns.tags.lastCurrent(kv.tags) {
		return nil
	}
	if v := judgeStamp(kv.st, now, maxStale); v != fresh && v != staleUsable {
		return nil
	}
	return &knownValue{kv.v, kv.st, kv.tags}
}

// remember keeps v, stamped st, as full's last known value for as long as
// judge finds it usable, when the namespace may serve stale values at all
// (maxStale above 0): only then does this process need to remember it.
func remember[T any](ns *Namespace, full string, v T, st codec.Stamp, tags []codec.Tag, maxStale time.Duration) {
	if maxStale > 0 {
		ns.c.known.Remember(full, knownValue{v, st, tags}, st.AsOf, st.FreshUntil().Add(maxStale), func() int64 { return sizeof.Of(v) })
	}
}

// decodeStamped decodes b, read under full, into v and checks its stamp
// against this call's bounds (loadOpts.trust). A value that cannot be
// decoded, or that claims to be loaded in the future, is counted, logged
// (rate-limited) and reported as not ok: get-or-load treats it as absent,
// so that the loader replaces it. So is a value that was invalidated
// since it was written: its key waits for a delete this process queued,
// or one of its tags moved (or could not be read).
func decodeStamped[T any](ctx context.Context, ns *Namespace, k opKind, op, key, full string, b []byte, v *T, o *loadOpts, now time.Time) (stampInfo, bool) {
	if ns.awaitsInvalidation(full) {
		return stampInfo{}, false
	}
	var m codec.Meta
	err := ns.codec.UnmarshalMeta(full, b, v, &m)
	st, stamped := m.Stamp, m.Stamped
	if err != nil {
		ns.failed(k, &SerializationError{Op: op, Namespace: ns.name, Key: key, Err: err})
		ns.obs.warnLimited("tradecache: unreadable cached value replaced by a load", "namespace", ns.name, "error", err)
		return stampInfo{}, false
	}
	if stamped {
		var ok bool
		if st, ok = o.trust(st, now); !ok {
			ns.failed(k, &SerializationError{Op: op, Namespace: ns.name, Key: key, Err: errFutureStamp})
			ns.obs.warnLimited("tradecache: value stamped in the future replaced by a load", "namespace", ns.name, "as_of", st.AsOf)
			return stampInfo{}, false
		}
	}
	si := stampInfo{st, stamped, nil}
	if m.Tags != nil {
		if ok, err := ns.tags.holds(ctx, m.Tags); err != nil || !ok {
			return stampInfo{}, false
		}
		si.tags = codec.Tags(m.Tags)
	}
	return si, true
}
