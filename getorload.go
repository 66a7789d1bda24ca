package tradecache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"reflect"
	"time"

	"github.com/tradecache/tradecache/codec"
)

func (n *Namespace) loadOptions(opts []LoadOption) loadOpts {
	if len(opts) == 0 {
		return n.loadDefaults // no copy escapes to the heap on the common path
	}
	return n.applyOptions(opts)
}

func (n *Namespace) applyOptions(opts []LoadOption) loadOpts {
	o := n.loadDefaults
	for _, opt := range opts {
		opt(&o)
	}
	// WithLock(0, 0) means the defaults; a negative duration is refused
	// by validate, not quietly replaced.
	if o.lockTTL == 0 {
		o.lockTTL = DefaultLockTTL
	}
	if o.lockWait == 0 {
		o.lockWait = DefaultLockWait
	}
	return o
}

// GetOrLoad returns the value of key in ns, calling load to produce it on a
// miss and caching what load returns. Within this process, concurrent
// misses of one key share one load call (and with WithLock, so do other
// processes). Meta says where the value came from, how old it is, and
// whether it is stale.
//
// When load fails, or the store cannot be reached, a value past its
// freshness is returned (with Meta.Stale set) only if it is within the
// namespace's MaxStale; otherwise the error is returned. A loader error
// matching ErrNotFound is remembered for the negative TTL.
func GetOrLoad[T any](ctx context.Context, ns *Namespace, key string, load func(context.Context) (T, error), opts ...LoadOption) (T, Meta, error) {
	const op = "get_or_load"
	var zero T
	full, err := ns.key(op, key)
	if err != nil {
		return zero, Meta{}, err
	}
	o := ns.loadOptions(opts)
	if err := o.validate(op, ns.name, key); err != nil {
		return zero, Meta{}, err
	}
	now := ns.c.now()
	if v, st, ok := nearFresh[T](ns, key, now); ok {
		ns.hit(1)
		if o.shouldRefresh(now, st) {
			refreshAhead(ctx, ns, full, st.AsOf, load, o)
		}
		return v, Meta{Source: SourceNear, AsOf: st.AsOf, Age: age(now, st.AsOf)}, nil
	}
	done := ns.c.loadsOf(full).Load() // before the read: see loadAndStore
	v, st, found, storeErr := readStamped[T](ctx, ns, full, &o, now)
	var stale *knownValue
	worth := judge(found, st, now, o.maxStale)
	switch {
	case storeErr != nil:
		stale = lastKnown[T](ns, full, now, o.maxStale)
	case worth == freshMiss:
		ns.hit(1)
		return zero, Meta{Source: SourceStore, AsOf: st.AsOf, Age: age(now, st.AsOf)}, notFound(op, ns.name, key)
	case worth == fresh && st.stamped:
		ns.hit(1)
		remember(ns, full, v, st.Stamp, st.tags, o.maxStale)
		if o.shouldRefresh(now, st.Stamp) {
			refreshAhead(ctx, ns, full, st.AsOf, load, o)
		}
		return v, Meta{Source: SourceStore, AsOf: st.AsOf, Age: age(now, st.AsOf)}, nil
	case worth == fresh:
		// Written by Set: no stamp, so fresh for as long as it exists.
		ns.hit(1)
		return v, Meta{Source: SourceStore}, nil
	case worth == staleUsable:
		stale = &knownValue{v, st.Stamp, st.tags}
	}
	ns.miss(1)

	lo := o // the closure outlives this call: copy, so that o stays on the stack on hits
	call := ns.c.flights.Start(ctx, flightKey[T](full), o.loadTimeout, func(lctx context.Context) (loaded, error) {
		v, m, err := loadAndStore(lctx, ns, full, storeErr == nil, false, done, load, lo)
		return loaded{v, m}, err
	})
	// Wait for the load, the caller's ctx, and the timeouts. A timeout
	// leaves the load running: it stores its value when it finishes, for
	// the next caller (bounded by the load timeout).
	var (
		res  any
		meta Meta
	)
	gaveUp, err := o.waitLoad(ctx, call.Done(), stale != nil)
	switch {
	case gaveUp:
		return zero, Meta{}, loadFailed(op, ns.name, key, err)
	case err == nil:
		var r loaded
		r, err = call.Result()
		res, meta = r.v, r.meta
	}
	if err == nil {
		if tv, ok := res.(T); ok || res == nil {
			if ok {
				meta.Age = age(ns.c.now(), meta.AsOf)
			}
			return tv, meta, nil
		}
		return zero, Meta{}, invalidArg(op, ns.name, key, "a concurrent load of this key returned %T", res)
	}
	if errors.Is(err, ErrNotFound) {
		return zero, meta, loadFailed(op, ns.name, key, err)
	}
	if stale != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
		ns.c.staleServed.Add(1)
		src := SourceStore
		if storeErr != nil {
			src = SourceLocal
		}
		return stale.v.(T), Meta{Source: src, AsOf: stale.st.AsOf, Age: age(ns.c.now(), stale.st.AsOf), Stale: true, Err: loaderErr(err)}, nil
	}
	return zero, Meta{}, loadFailed(op, ns.name, key, err)
}

// flightKey separates loads of one key into different types.
func flightKey[T any](full string) string { return full + " " + reflect.TypeFor[T]().String() }

type stampInfo struct {
	codec.Stamp
	stamped bool
	tags    []codec.Tag // the value's tags, all current when read; nil for an untagged value
}

// readStamped reads and decodes key, tracked when ns has a near tier, and
// keeps a fresh stamped value near. A value that cannot be decoded is
// treated as absent, so the loader replaces it; the error is counted.
//
// The stamp is trusted only within bounds (loadOpts.trust): a value that
// claims to be loaded in the future is treated as absent too, and its
// freshness is cut to what this call's policy could have given it.
func readStamped[T any](ctx context.Context, ns *Namespace, full string, o *loadOpts, now time.Time) (T, stampInfo, bool, error) {
	var v T
	key := full[len(ns.base):]
	b, found, kp, err := ns.read(ctx, opGetOrLoad, key, full, true)
	if err != nil || !found {
		return v, stampInfo{}, false, err
	}
	st, ok := decodeStamped(ctx, ns, opGetOrLoad, "get_or_load", key, full, b, &v, o, now)
	if !ok {
		var zero T
		return zero, stampInfo{}, false, nil
	}
	if st.stamped && kp.ok && st.tags == nil { // a tagged value is checked on every read: never near // boxing the value costs an allocation: only when it is kept
		ns.keepNear(key, nearStamped[T]{v, st.Stamp}, len(b), kp, st.FreshUntil().UnixNano())
	}
	return v, st, true, nil
}

// nearFresh returns key's value from ns's near tier when get-or-load kept
// it there and it is still fresh (a remembered miss is not a value).
func nearFresh[T any](ns *Namespace, key string, now time.Time) (T, codec.Stamp, bool) {
	if ns.near != nil {
		if e, ok := ns.near.Get(key, now.UnixNano()); ok {
			if ne, ok := e.(nearStamped[T]); ok && judgeStamp(ne.st, now, 0) == fresh {
				return ne.v, ne.st, true
			}
		}
	}
	var zero T
	return zero, codec.Stamp{}, false
}

// nearStamped is how get-or-load keeps a value in the near tier: with its
// stamp, so a near hit knows its freshness and age.
type nearStamped[T any] struct {
	v  T
	st codec.Stamp
}

// loadAndStore is the body of one load: with the cross-process lock, check
// the store again and take the lock; then call the loader and store its
// value.
func loadAndStore[T any](ctx context.Context, ns *Namespace, full string, storeUp, refresh bool, doneBefore uint64, load func(context.Context) (T, error), o loadOpts) (any, Meta, error) {
	defer ns.c.loadsOf(full).Add(1)
	look := func() (any, Meta, bool) { return lookFresh[T](ctx, ns, full, &o) }
	// A load of this process that finished between the caller's read and
	// this flight (the caller read a miss, then the flight it would have
	// joined was gone) may have stored the value: look again, rather than
	// load over it with an older result. Without that, and without the
	// lock, the store is not read again: nothing stops another process
	// loading at once anyway, and the look would be a round trip that
	// changes nothing (a cold load did two GETs).
	if storeUp && !refresh && !o.lock && ns.c.loadsOf(full).Load() != doneBefore {
		if v, m, ok := look(); ok {
			return served(v, m)
		}
	}
	if storeUp && o.lock {
		l := lockForLoad(ctx, ns, full, refresh, &o, look)
		if l.unlock != nil {
			defer l.unlock()
		}
		if l.done {
			return l.v, l.m, l.err
		}
	}
	return runLoad(ctx, ns, full, storeUp, load, &o)
}

// lookFresh reads full and returns what a load need not run for: a fresh
// value, or a fresh remembered miss (nil); ok is false otherwise.
func lookFresh[T any](ctx context.Context, ns *Namespace, full string, o *loadOpts) (v any, m Meta, ok bool) {
	tv, st, found, err := readStamped[T](ctx, ns, full, o, ns.now())
	if err != nil {
		return nil, Meta{}, false
	}
	m = Meta{Source: SourceStore, AsOf: st.AsOf}
	switch judge(found, st, ns.c.now(), 0) {
	case freshMiss:
		return nil, m, true
	case fresh:
		return tv, m, true
	}
	return nil, Meta{}, false
}

// served is what a load returns for what lookFresh found.
func served(v any, m Meta) (any, Meta, error) {
	if v == nil {
		return nil, m, ErrNotFound
	}
	return v, m, nil
}

// lockOutcome is what lockForLoad decided: done with a result when the
// load need not run (the value came while waiting, or another process is
// refreshing it), and unlock to call once the load is over when this
// process holds the lock.
type lockOutcome struct {
	done   bool
	v      any
	m      Meta
	err    error
	unlock func()
}

// lockForLoad takes full's load lock (WithLock), or waits for its holder's
// value, up to the lock's wait bound.
func lockForLoad(ctx context.Context, ns *Namespace, full string, refresh bool, o *loadOpts, look func() (any, Meta, bool)) (out lockOutcome) {
	// Another process may have filled it since the caller's read. An
	// early refresh knows the value is fresh: it does not look.
	if !refresh {
		if v, m, ok := look(); ok {
			v, m, err := served(v, m)
			return lockOutcome{done: true, v: v, m: m, err: err}
		}
	}
	token := newToken()
	// Watch for the holder's release before trying the lock, so that a
	// release between a refused SET NX and the wait still wakes this one;
	// each wake is followed by a new watch before looking.
	released, stopWatch := ns.watchRelease(full)
	defer func() { stopWatch() }()
	held, err := ns.lock(ctx, full, token, o.lockTTL)
	if err == nil && !held && refresh {
		return lockOutcome{done: true} // another process is refreshing it
	}
	if err == nil && !held {
		// Woken by the release, the waiter reads the value the holder
		// stored just before. It still looks every poll: a release can be
		// missed, and a dead holder's lock expires unannounced.
		poll := o.lockPoll
		if released != nil {
			poll = lockLook
		}
		deadline := time.Now().Add(o.lockWait)
		for time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return lockOutcome{done: true, err: ctx.Err()}
			case <-released:
			case <-time.After(poll):
			}
			stopWatch()
			released, stopWatch = ns.watchRelease(full)
			if v, m, ok := look(); ok {
				v, m, err := served(v, m)
				return lockOutcome{done: true, v: v, m: m, err: err}
			}
			// A holder that died leaves its lock to expire: take it
			// then, rather than wait out the whole bound.
			if held, _ = ns.lock(ctx, full, token, o.lockTTL); held {
				break
			}
		}
		// Past the bound: load anyway rather than wait on a holder that
		// may be gone.
	}
	if !held {
		return lockOutcome{}
	}
	out.unlock = func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		ns.unlock(rctx, full, token)
	}
	// The previous holder may have stored the value and let go between
	// this process's last look and its taking the lock: look once more
	// before loading again.
	if v, m, ok := look(); ok && !refresh {
		out.done = true
		out.v, out.m, out.err = served(v, m)
	}
	return out
}

// runLoad calls the loader and stores what it gave: its value, stamped
// with when the load started, or, for ErrNotFound with a negative TTL, a
// remembered miss. Its tags' tokens are read first.
func runLoad[T any](ctx context.Context, ns *Namespace, full string, storeUp bool, load func(context.Context) (T, error), o *loadOpts) (any, Meta, error) {
	tags, captured := loadTags(ctx, ns, o.tags, storeUp)
	storeUp = storeUp && captured
	start, t0 := ns.c.now(), time.Now()
	v, err := load(ctx)
	took := time.Since(t0) // a duration: the system clock's
	ns.c.loads.Add(1)
	if err != nil {
		ns.c.loadErrors.Add(1)
		if errors.Is(err, ErrNotFound) && o.negTTL > 0 && storeUp {
			st := codec.Stamp{AsOf: start, FreshFor: o.negTTL, LoadTime: took, Negative: true}
			ns.storeStamped(ctx, full, nil, st, tags, o.negTTL)
		}
		return nil, Meta{}, err
	}
	st := codec.Stamp{AsOf: start, FreshFor: o.freshFor(), LoadTime: took}
	if storeUp {
		ns.storeStamped(ctx, full, v, st, tags, st.FreshFor+o.maxStale)
	}
	remember(ns, full, v, st, tags, o.maxStale)
	return v, Meta{Source: SourceLoader, AsOf: start}, nil
}

// loadTags returns the tags a load's value carries: their tokens as they
// stood before the load (an invalidation while it runs makes what it
// returns absent once stored), when the store is up and answers. Unasked
// or unanswered, the tokens are "", captured is false, and the value is
// not stored: it is kept only in this process, for fail-safe, where a
// queued invalidation of a tag still bars it. GetOrLoad and
// GetManyOrLoad both take their tags here.
func loadTags(ctx context.Context, ns *Namespace, names []string, storeUp bool) (tags []codec.Tag, captured bool) {
	if len(names) == 0 {
		return nil, true
	}
	if storeUp {
		if tags, err := ns.tags.capture(ctx, names); err == nil {
			return tags, true
		}
	}
	tags = make([]codec.Tag, len(names))
	for i, t := range names {
		tags[i].Name = t
	}
	return tags, false
}

// storeStamped writes a loaded value. A failed write is counted and
// logged, never retried: a retry could land after a newer value.
func (ns *Namespace) storeStamped(ctx context.Context, full string, v any, st codec.Stamp, tags []codec.Tag, ttl time.Duration) {
	const op = "get_or_load"
	key := full[len(ns.base):]
	b, err := ns.encodeTagged(nil, op, key, full, v, &st, tags)
	if err != nil {
		ns.failed(opSet, err)
		ns.obs.warnLimited("tradecache: caching a loaded value failed, not retried", "namespace", ns.name, "error", err)
		return
	}
	if ns.c.closed.Load() {
		return // closed while loading: nothing is written after Close
	}
	// A failed write is counted and logged by the path.
	_ = ns.write(ctx, opSet, key, full, b, ttl)
}

// refreshAhead reloads key in the background, once, unless a load of it
// is already running. The caller has a fresh value and does not wait.
//
// seen is the load time of the value the caller read. A refresh that
// finished just before this one started has already replaced it; the
// refresh then does nothing, so a window sees one load, not two.
func refreshAhead[T any](ctx context.Context, ns *Namespace, full string, seen time.Time, load func(context.Context) (T, error), o loadOpts) {
	fk := flightKey[T](full) + " refresh"
	if ns.c.flights.InFlight(fk) {
		return
	}
	ns.c.flights.Go(ctx, fk, o.loadTimeout, func(lctx context.Context) (loaded, error) {
		if _, st, found, err := readStamped[T](lctx, ns, full, &o, ns.now()); err != nil || (found && st.stamped && st.AsOf.After(seen)) {
			return loaded{}, nil
		}
		ns.c.refreshes.Add(1)
		v, m, err := loadAndStore(lctx, ns, full, true, true, 0, load, o)
		return loaded{v, m}, err
	})
}

func newToken() []byte {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return []byte(hex.EncodeToString(b[:]))
}
