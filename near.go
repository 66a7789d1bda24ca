package tradecache

import (
	"context"
)

// GetNear reads key through ns's near cache: a decoded value held in
// process when there is one, else a tracked read from Redis whose decoded
// value is kept until any client changes the key (see the package's near
// cache notes above: values are shared and must not be modified). found
// is false for a missing key. On a namespace without a near tier, or on
// the in-memory store, it is a plain Get.
func GetNear[T any](ctx context.Context, ns *Namespace, key string) (T, bool, error) {
	var zero T
	if ns.near != nil && !ns.c.closed.Load() {
		if v, ok := ns.near.Get(key, ns.c.now().UnixNano()); ok {
			if tv, ok := v.(T); ok {
				ns.hit(1) // Stats.Hits counts every read that found a value, as GetOrLoad's near hits do
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
	tagged, err := ns.decode(ctx, opGet, op, key, full, b, &v)
	if err == errInvalidated {
		ns.miss(1)
		return zero, false, nil
	} else if err != nil {
		return zero, false, err
	}
	ns.hit(1)
	if kp.ok && !tagged {
		ns.keepNear(key, v, len(b), kp, kp.until)
	}
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
	return getMany[T](ctx, ns, keys, ns.near != nil)
}

// getMany reads keys into a map of T (eachOf).
func getMany[T any](ctx context.Context, ns *Namespace, keys []string, near bool) (map[string]T, error) {
	out := make(map[string]T, len(keys))
	sent, err := eachOf(ctx, ns, keys, near, func(i int, v T) { out[keys[i]] = v })
	if !sent {
		return nil, err
	}
	return out, err
}

// eachOf reads keys and hands each value found to yield with its index in
// keys, through the near tier when near is set (ns must have one), with
// plain reads otherwise: the typed batch readers (GetManyNear, and
// Handle's GetMany and GetManyFunc) without reflection, and without a map
// unless the caller keeps one. sent is false when it failed before
// reading anything.
func eachOf[T any](ctx context.Context, ns *Namespace, keys []string, near bool, yield func(i int, v T)) (sent bool, err error) {
	const op = "get_many"
	var rest, full []string // near misses
	var idx []int           // rest[j] is keys[idx[j]]; nil: rest is keys
	held := 0
	if !near {
		// Every key is read; decoded into T without reflection over the
		// map, which GetMany's any destination needs.
		if full, err = ns.callKeys(op, keys); err != nil {
			return false, err
		}
		rest = keys
	} else {
		if ns.c.closed.Load() {
			return false, ns.fail(op, "", errClosed)
		}
		if err := ns.tooMany(op, len(keys)); err != nil {
			return false, err
		}
		now := ns.c.now().UnixNano()
		for i, k := range keys {
			if v, ok := ns.near.Get(k, now); ok {
				if tv, ok := v.(T); ok {
					yield(i, tv)
					held++
					continue
				}
			}
			if err := ns.check(op, k); err != nil {
				return false, err // before anything is sent
			}
			rest, full, idx = append(rest, k), append(full, ns.base+k), append(idx, i)
		}
	}
	var serr error
	found, missed := 0, 0
	// One decode target for the batch, zeroed before each value: a target
	// per value escapes to the heap (the codec takes it as any), 100
	// allocations in a batch of 100.
	var v, zero T
	if held > 0 {
		ns.hit(held) // near hits count in Stats.Hits, once per batch
	}
	read, partial := ns.readMany(ctx, op, rest, full, near, func(i int, b []byte, kp nearKeep, err error) {
		switch {
		case err != nil:
			return
		case b == nil:
			missed++
			return
		}
		v = zero
		tagged, err := ns.decode(ctx, opGetMany, op, rest[i], full[i], b, &v)
		if err == errInvalidated {
			missed++
			return
		} else if err != nil {
			if serr == nil {
				serr = err
			}
			return
		}
		found++
		if idx != nil {
			yield(idx[i], v)
		} else {
			yield(i, v)
		}
		if kp.ok && !tagged {
			ns.keepNear(rest[i], v, len(b), kp, kp.until)
		}
	})
	ns.hit(found) // once per batch, as GetMany
	ns.miss(missed)
	if err := ns.batchErr(op, partial, held+read); err != nil {
		return true, err
	}
	return true, serr
}
