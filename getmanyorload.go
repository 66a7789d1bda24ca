package tradecache

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/flight"
	"github.com/tradecache/tradecache/store"
)

// GetManyOrLoad returns the values of keys, calling load once with exactly
// the keys that are missing or past their freshness, and caching what it
// returns (keys it leaves out are remembered as not found for the negative
// TTL, when there is one). Keys are read MaxBatchSize per round trip.
//
// On a namespace with a near tier, fresh values held in process are
// served from it (SourceNear) and the others are read tracked and kept, as
// GetOrLoad does.
//
// The metas say where each value came from. When load fails, keys with a
// value within MaxStale get it, flagged stale (SourceStore when it was read
// from the store, SourceLocal when its read failed and this process's last
// known value served); the error is returned when any requested key is
// left without a value. A key whose read failed (its shard down) is
// loaded but not written; the others' loaded values are.
//
// It takes no lock and refreshes nothing early: WithLock and
// WithEarlyRefresh are refused with ErrInvalidArgument. Concurrent calls
// missing the same keys share one call of load.
func GetManyOrLoad[T any](ctx context.Context, ns *Namespace, keys []string, load func(ctx context.Context, missing []string) (map[string]T, error), opts ...LoadOption) (map[string]T, map[string]Meta, error) {
	const op = "get_many_or_load"
	full, err := ns.keys(op, keys)
	if err != nil {
		return nil, nil, err
	}
	o := ns.loadOptions(opts)
	if err := o.validate(op, ns.name, ""); err != nil {
		return nil, nil, err
	}
	// A batch takes no lock and refreshes nothing early: an option that
	// asks for either is refused rather than ignored. (A namespace policy's
	// Lock applies to GetOrLoad only.)
	var asked loadOpts
	for _, opt := range opts {
		opt(&asked)
	}
	if asked.lock || asked.beta != 0 {
		return nil, nil, invalidArg(op, ns.name, "", "WithLock and WithEarlyRefresh apply to GetOrLoad, not to GetManyOrLoad")
	}
	now := ns.c.now()
	b := batchRead[T]{out: make(map[string]T, len(keys)), metas: make(map[string]Meta, len(keys)),
		stale: map[string]*knownValue{}, staleFrom: map[string]Source{}, notRead: map[string]bool{}}
	defer func() { ns.hit(b.hits) }() // once per batch, as GetMany
	b.read(ctx, ns, op, keys, full, &o, now)
	if len(b.missing) == 0 {
		return b.out, b.metas, nil
	}
	ns.miss(len(b.missing))
	r, gaveUp, err := loadMissing(ctx, ns, op, o, load, &b)
	switch {
	case gaveUp:
		return b.out, b.metas, loadFailed(op, ns.name, "", err)
	case r.err != nil:
		return b.out, b.metas, b.serveStale(ns, op, r.err)
	}
	for k, v := range r.vals {
		b.out[k], b.metas[k] = v, r.metas[k]
	}
	return b.out, b.metas, r.storeErr
}

// batchRead is what GetManyOrLoad's read found: the values it serves and
// the keys it must load. stale holds the values a failed load may serve
// instead, staleFrom where each came from, and notRead the keys whose
// read failed (a shard down, or the store): they are loaded, or served
// stale from this process's memory, and their loaded values are not
// written (the others' are).
type batchRead[T any] struct {
	out                  map[string]T
	metas                map[string]Meta
	hits                 int
	missing, missingFull []string
	stale                map[string]*knownValue
	staleFrom            map[string]Source
	notRead              map[string]bool
}

// read reads keys (full: their store keys), each once, and none that the
// near tier holds fresh, judging each value by the freshness rule.
func (b *batchRead[T]) read(ctx context.Context, ns *Namespace, op string, keys, full []string, o *loadOpts, now time.Time) {
	seen := make(map[string]bool, len(keys))
	var rkeys, rfull []string
	for i, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if v, st, ok := nearFresh[T](ns, k, now); ok {
			b.hits++
			b.out[k], b.metas[k] = v, Meta{Source: SourceNear, AsOf: st.AsOf, Age: age(now, st.AsOf)}
			continue
		}
		rkeys, rfull = append(rkeys, k), append(rfull, full[i])
	}
	var v, zero T // one decode target for the batch (see GetManyNear)
	ns.readMany(ctx, op, rkeys, rfull, true, func(i int, raw []byte, kp nearKeep, err error) {
		k := rkeys[i]
		if err != nil {
			b.notRead[k] = true
			b.staleFrom[k] = SourceLocal
			if kv := lastKnown[T](ns, rfull[i], now, o.maxStale); kv != nil {
				b.stale[k] = kv
			}
			b.missing, b.missingFull = append(b.missing, k), append(b.missingFull, rfull[i])
			return
		}
		if raw != nil {
			v = zero
			st, ok := decodeStamped(ctx, ns, opGetMany, op, k, rfull[i], raw, &v, o, now)
			switch judge(ok, st, now, o.maxStale) {
			case fresh:
				b.hits++
				b.out[k], b.metas[k] = v, Meta{Source: SourceStore}
				if st.stamped {
					b.metas[k] = Meta{Source: SourceStore, AsOf: st.AsOf, Age: age(now, st.AsOf)}
					if kp.ok && st.tags == nil {
						ns.keepNear(k, nearStamped[T]{v, st.Stamp}, len(raw), kp, st.FreshUntil().UnixNano())
					}
				}
				return
			case freshMiss:
				b.hits++
				return
			case staleUsable:
				b.stale[k] = &knownValue{v, st.Stamp, st.tags}
				b.staleFrom[k] = SourceStore
			}
		}
		b.missing, b.missingFull = append(b.missing, k), append(b.missingFull, rfull[i])
	})
}

// loadMissing loads b's missing keys and caches what the loader returns,
// as one flight per set of missing keys: identical concurrent calls share
// one load, as GetOrLoad's callers of one key do (with the first caller's
// options). It runs detached from the callers and bounded by the load
// timeout, so that a caller can stop waiting (its ctx, a soft or hard
// timeout) while it goes on to store its values for the next one; Close
// stops it. gaveUp is the caller's wait ending first, with why in err.
func loadMissing[T any](ctx context.Context, ns *Namespace, op string, o loadOpts, load func(context.Context, []string) (map[string]T, error), b *batchRead[T]) (r batchResult[T], gaveUp bool, err error) {
	missing, missingFull, notRead := b.missing, b.missingFull, b.notRead
	run := func(ctx context.Context) batchResult[T] {
		// Tags as GetOrLoad takes them: their tokens before the load; a
		// batch whose tokens could not be read is loaded, not stored.
		tags, captured := loadTags(ctx, ns, o.tags, true)
		start, t0 := ns.c.now(), time.Now()
		loaded, err := callBatch(ctx, load, missing)
		ns.c.loads.Add(1)
		if err != nil {
			ns.c.loadErrors.Add(1)
			return batchResult[T]{err: err}
		}
		return storeBatch(ctx, ns, op, o, missing, missingFull, loaded, start, time.Since(t0), notRead, tags, captured)
	}
	call := ns.c.batchFlights.Start(ctx, batchFlightKey[T](missingFull), o.loadTimeout, func(lctx context.Context) (any, error) {
		return run(lctx), nil
	})
	gaveUp, err = o.waitLoad(ctx, call.Done(), len(b.stale) > 0)
	switch {
	case gaveUp:
		return r, true, err
	case err == nil:
		res, ferr := call.Result()
		if br, ok := res.(batchResult[T]); ok && ferr == nil {
			return br, false, nil
		}
		r.err = loaderErr(ferr) // the load panicked, or the Cache was closed
		if r.err == nil {
			r.err = errClosed
		}
	default:
		r.err = err
	}
	return r, false, nil
}

// serveStale serves, for a load that failed with err, every missing key
// that has a value within MaxStale, flagged stale, and returns the error
// the caller gets: nil when every missing key was served.
func (b *batchRead[T]) serveStale(ns *Namespace, op string, err error) error {
	unfilled := 0
	for _, k := range b.missing {
		if kv, ok := b.stale[k]; ok {
			b.out[k] = kv.v.(T)
			b.metas[k] = Meta{Source: b.staleFrom[k], AsOf: kv.st.AsOf, Age: age(ns.c.now(), kv.st.AsOf), Stale: true, Err: loaderErr(err)}
			ns.c.staleServed.Add(1)
		} else {
			unfilled++
		}
	}
	if unfilled > 0 {
		return loadFailed(op, ns.name, "", fmt.Errorf("%d of %d keys unavailable: %w", unfilled, len(b.missing), err))
	}
	return nil
}

// batchResult is what one batch load came to: its values and their
// metas, or the loader's error; storeErr is a value that could not be
// encoded for caching.
type batchResult[T any] struct {
	vals     map[string]T
	metas    map[string]Meta
	err      error
	storeErr error
}

// storeBatch stamps and caches what a batch loader returned for missing
// (full keys in missingFull): values for their freshness plus MaxStale,
// keys it left out as remembered misses for the negative TTL. A failed
// write is counted and logged by the path, never retried: a retry could
// land after a newer value. With write false (the tags' tokens could not
// be read), nothing is written: the values are only remembered, with
// their tags, for fail-safe.
func storeBatch[T any](ctx context.Context, ns *Namespace, op string, o loadOpts, missing, missingFull []string, loaded map[string]T, start time.Time, took time.Duration, notRead map[string]bool, tags []codec.Tag, write bool) batchResult[T] {
	r := batchResult[T]{vals: make(map[string]T, len(loaded)), metas: make(map[string]Meta, len(loaded))}
	var entries []store.Entry
	for i, k := range missing {
		v, ok := loaded[k]
		var st codec.Stamp
		var ttl time.Duration
		var value any
		switch {
		case ok:
			st = codec.Stamp{AsOf: start, FreshFor: o.freshFor(), LoadTime: took}
			ttl, value = st.FreshFor+o.maxStale, v
			r.vals[k], r.metas[k] = v, Meta{Source: SourceLoader, AsOf: start}
			remember(ns, missingFull[i], v, st, tags, o.maxStale)
		case o.negTTL > 0:
			st = codec.Stamp{AsOf: start, FreshFor: o.negTTL, LoadTime: took, Negative: true}
			ttl = o.negTTL
		default:
			continue
		}
		if notRead[k] || !write {
			continue // its shard (or the store) did not answer: no write to it
		}
		b, err := ns.encodeTagged(nil, op, k, missingFull[i], value, &st, tags)
		if err != nil {
			r.storeErr = err
			return r
		}
		entries = append(entries, store.Entry{Key: missingFull[i], Value: b, TTL: ttl})
	}
	if ns.c.closed.Load() {
		return r // closed meanwhile: nothing is written after Close
	}
	_, _ = ns.writeMany(ctx, op, entries, func(i int) string { return entries[i].Key[len(ns.base):] })
	return r
}

// callBatch calls a batch loader, turning a panic into a *PanicError.
func callBatch[T any](ctx context.Context, load func(context.Context, []string) (map[string]T, error), missing []string) (m map[string]T, err error) {
	defer func() { err = loaderErr(err) }() // runs after Recover: deferred calls run last first
	defer flight.Recover(&err)
	return load(ctx, missing)
}

// batchFlightKey names a batch load by its missing keys (sorted: the same
// set in another order is the same load) and the value type.
func batchFlightKey[T any](missingFull []string) string {
	keys := slices.Clone(missingFull)
	slices.Sort(keys)
	return strings.Join(keys, "\x00") + " " + reflect.TypeFor[T]().String()
}
