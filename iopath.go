package tradecache

import (
	"context"
	"errors"
	"time"

	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/near"
	"github.com/tradecache/tradecache/internal/sizeof"
	"github.com/tradecache/tradecache/store"
)

// The one I/O path. Every call the layer makes to its store is made in
// these files, so that what each call needs happens once, in one order:
// batching by MaxBatchSize, the choice between a tracked read (kept in the
// near tier) and a plain one, the near tier's bookkeeping of this
// process's own writes, the mapping of store.PartialError onto
// PartialError, and the observation of latency, failures and spans. The
// public operations check keys and arguments, encode and decode, and call
// these. The one exception is the reads and writes of tag tokens
// (tagstate.go), which belong to no namespace: they keep the guard's
// bounds and breakers, and the same observer records them under the
// namespace "#tag".
//
// The path is in seven files, one concern each, over the backend they
// share (backend.go): this one holds the key-value reads and writes;
// iopath_streams.go the stream calls, iopath_lock.go get-or-load's lock,
// iopath_health.go the pings and INFO, iopath_codec.go encoding and
// decoding, iopath_inval.go what an invalidation that could not reach the
// store leaves queued, and iopath_stats.go the counts, the observation of
// each call and the published live stats.

// ioPath is one namespace's path to the store: every call the namespace
// makes to the store goes through its methods.
type ioPath struct {
	*backend
	near    *near.Tier    // nil unless the namespace has a near cache over a store that tracks
	nearTTL time.Duration // how long a tracked read's copy may be kept: the TTL, or MaxAge if shorter
	codec   *codec.Codec
	name    string
	base    string // "<prefix>:<name>:"
	hotName string // "<name>:", before a key in the hot keys
	counts  nsCounters
}

// nearKeep is what a tracked read tells its caller for keeping the decoded
// value in the near tier.
type nearKeep struct {
	until int64  // unix nanoseconds: when the client-side copy stops being valid
	epoch uint64 // the key's near shard epoch before the read
	ok    bool   // the read was tracked, so its value may be kept
}

// read reads one key, tracked when track is set, n has a near tier (which
// it has only over a store that tracks) and this process has not written
// key within the own-write window; it observes the call as k.
func (p *ioPath) read(ctx context.Context, k opKind, key, full string, track bool) (b []byte, found bool, kp nearKeep, err error) {
	t0 := p.start()
	if track && p.near != nil && p.near.Settled(key, p.now().UnixNano()) { // no clock read without a near tier
		kp = nearKeep{epoch: p.near.Epoch(key), ok: true}
		var until time.Time
		b, found, until, err = p.cached.GetCached(ctx, full, p.nearTTL)
		kp.until = p.onClock(until)
	} else if p.guard != nil {
		b, found, err = p.guard.GetAt(ctx, full, t0.at()) // bounded from t0: no second clock read
	} else {
		b, found, err = p.store.Get(ctx, full)
	}
	p.observe(ctx, k, key, t0, len(b), err)
	p.sampleRead(key)
	return b, found, kp, err
}

// sampleRead counts a sampled read of key towards the hot keys.
func (p *ioPath) sampleRead(key string) {
	if p.hot != nil && p.hot.Sampled() {
		p.hot.AddNamed(p.hotName, key)
	}
}

// onClock turns a time the store gave by the system clock into the
// Cache's clock, in unix nanoseconds: what counts is how far ahead it is.
func (p *ioPath) onClock(t time.Time) int64 {
	return p.now().Add(time.Until(t)).UnixNano()
}

// keepNear keeps v, decoded from a tracked read described by kp, in the
// near tier until exp (unix nanoseconds) at the latest. An untracked read
// keeps nothing; callers test kp.ok first, since boxing v costs an
// allocation. The tier is charged what v holds in memory, estimated,
// not the bytes it was decoded from: a few hundred compressed bytes can
// decode to megabytes.
func (p *ioPath) keepNear(key string, v any, encoded int, kp nearKeep, exp int64) {
	if kp.ok {
		size := max(int64(encoded), sizeof.Of(v)) + int64(len(key)) + 64
		p.near.Put(key, v, size, min(kp.until, exp), kp.epoch)
	}
}

// readMany is the one batch reader, behind GetMany, GetManyNear and
// GetManyOrLoad. It reads keys (full[i] being keys[i] with the namespace's
// base) MaxBatchSize per round trip, tracked when track is set and no key
// of the batch was written by this process within the own-write window.
// got is called once per key, in order: with its bytes (nil for a miss)
// and how it may be kept, or with why it was not read. A batch that fails
// whole stops the call: the keys after it are not sent, and fail with its
// cause.
//
// It returns how many keys were read, and a *PartialError naming the
// others, or nil; batchErr makes the call's error of it.
func (p *ioPath) readMany(ctx context.Context, op string, keys, full []string, track bool, got func(i int, b []byte, kp nearKeep, err error)) (read int, partial *PartialError) {
	var cut error // a whole batch's failure
	for lo := 0; lo < len(full); lo += p.batch {
		hi := min(lo+p.batch, len(full))
		var (
			vals [][]byte
			kps  []nearKeep
			pe   *store.PartialError
		)
		if cut == nil {
			var err error
			vals, kps, err = p.readBatch(ctx, keys[lo:hi], full[lo:hi], track)
			if err != nil && !errors.As(err, &pe) {
				cut = err
			}
		}
		for i := lo; i < hi; i++ {
			cause := cut
			if cause == nil {
				cause = pe.Cause(i - lo)
			}
			if cause != nil {
				if partial == nil {
					partial = &PartialError{Op: op, Namespace: p.name}
				}
				partial.add(keys[i], cause)
				got(i, nil, nearKeep{}, cause)
				continue
			}
			read++
			var kp nearKeep
			if kps != nil {
				kp = kps[i-lo]
			}
			got(i, vals[i-lo], kp, nil)
		}
	}
	return read, partial
}

// batchErr is the error of a batch read that served served keys and could
// not read those pe names: nil when pe is nil, pe when anything was
// served, and an *OpError with pe's first cause when nothing was.
func (p *ioPath) batchErr(op string, pe *PartialError, served int) error {
	switch {
	case pe == nil:
		return nil
	case served == 0:
		return p.fail(op, "", pe.Errs[0])
	}
	return pe
}

// readBatch reads one batch: tracked, with how each value may be kept,
// when asked and every key is trackable; plain otherwise, kps nil.
func (p *ioPath) readBatch(ctx context.Context, keys, full []string, track bool) (vals [][]byte, kps []nearKeep, err error) {
	t0 := p.start()
	if track && p.near != nil {
		now := p.now().UnixNano()
		kps = make([]nearKeep, len(keys))
		for i, k := range keys {
			if !p.near.Settled(k, now) {
				kps = nil
				break
			}
			kps[i] = nearKeep{epoch: p.near.Epoch(k), ok: true}
		}
	}
	if kps != nil {
		var untils []time.Time
		vals, untils, err = p.cached.GetManyCached(ctx, full, p.nearTTL)
		for i := range untils {
			kps[i].until = p.onClock(untils[i])
		}
	} else if p.guard != nil {
		vals, err = p.guard.GetManyAt(ctx, full, t0.at()) // bounded from t0, as read's Get
	} else {
		vals, err = p.store.GetMany(ctx, full)
	}
	p.observe(ctx, opGetMany, "", t0, 0, err)
	if p.hot != nil {
		p.hot.AddSampled(p.hotName, keys)
	}
	return vals, kps, err
}

// getEx reads key and resets its TTL in one round trip.
func (p *ioPath) getEx(ctx context.Context, key, full string, ttl time.Duration) ([]byte, bool, error) {
	t0 := p.start()
	b, found, err := p.store.GetEx(ctx, full, ttl)
	p.observe(ctx, opTouch, key, t0, len(b), err)
	return b, found, err
}

// write stores b under key, observed as k. Whatever the outcome, this
// process's near tier forgets key and reads it untracked for the
// own-write window: a write that failed, or timed out, may still have
// been applied.
func (p *ioPath) write(ctx context.Context, k opKind, key, full string, b []byte, ttl time.Duration) error {
	if err := p.settle(ctx, full); err != nil {
		return err
	}
	t0 := p.start()
	err := p.store.Set(ctx, full, b, ttl)
	p.wroteNear(key)
	p.observe(ctx, k, key, t0, len(b), err)
	return err
}

// writeMany stores entries MaxBatchSize per round trip and returns how
// many were written, with a *PartialError naming the keys that were not
// (a shard down), or an *OpError when a batch failed whole (the batches
// after it are not sent). key(i) is entry i's caller key.
func (p *ioPath) writeMany(ctx context.Context, op string, entries []store.Entry, key func(i int) string) (int, error) {
	var (
		partial *PartialError
		written int
	)
	for lo := 0; lo < len(entries); lo += p.batch {
		hi := min(lo+p.batch, len(entries))
		for i := lo; i < hi; i++ {
			if err := p.settle(ctx, entries[i].Key); err != nil {
				return written, p.fail(op, "", err)
			}
		}
		t0 := p.start()
		err := p.store.SetMany(ctx, entries[lo:hi])
		if p.near != nil {
			now := p.now().UnixNano() // one clock read for the batch
			for i := lo; i < hi; i++ {
				p.near.Wrote(key(i), now)
			}
		}
		p.observe(ctx, opSetMany, "", t0, len(entries[hi-1].Value), err)
		var pe *store.PartialError
		switch {
		case errors.As(err, &pe):
			// A shard down: the others' entries were written; name the
			// rest and go on with the next batch.
			partial = p.partial(partial, op, pe, func(i int) string { return key(lo + i) })
			written += hi - lo - len(pe.Failed)
		case err != nil:
			return written, p.fail(op, "", err)
		default:
			written += hi - lo
		}
	}
	if partial != nil {
		return written, partial
	}
	return written, nil
}

// remove deletes keys MaxBatchSize per round trip and returns how many
// existed, with a *PartialError naming the keys not removed (a shard
// down; they may still exist), or an *OpError when a batch failed whole.
//
// Deletes that could not reach the store (unreachable, timed out, or
// refused for a passing state) are not errors: this process forgets the
// keys at once and queues the deletes (durable invalidation), and the
// batches after a failed one are queued without being sent. Only a full
// queue makes them an error (ErrInvalidationQueueFull).
func (p *ioPath) remove(ctx context.Context, op string, keys, full []string) (int64, error) {
	var (
		total   int64
		partial *PartialError
	)
	for lo := 0; lo < len(full); lo += p.batch {
		hi := min(lo+p.batch, len(full))
		t0 := p.start()
		d, err := p.store.Delete(ctx, full[lo:hi]...)
		p.wroteNear(keys[lo:hi]...)
		p.observe(ctx, opDelete, "", t0, 0, err)
		total += d
		var pe *store.PartialError
		switch {
		case errors.As(err, &pe):
			idx, cause := queueableFailures(pe)
			qk, qf := make([]string, len(idx)), make([]string, len(idx))
			for j, i := range idx {
				qk[j], qf[j] = keys[lo+i], full[lo+i]
			}
			if len(idx) > 0 {
				if qerr := p.queueDeletes(op, qk, qf, cause); qerr != nil {
					return total, qerr
				}
			}
			if len(idx) < len(pe.Failed) {
				partial = p.partial(partial, op, pe, func(i int) string { return keys[lo+i] })
			}
		case err != nil && queueable(err):
			return total, p.queueDeletes(op, keys[lo:], full[lo:], err)
		case err != nil:
			return total, p.fail(op, "", err)
		}
	}
	if partial != nil {
		return total, partial
	}
	return total, nil
}

// partial adds the entries a store's *PartialError lists to to (made if
// nil), key(i) being the caller's key of entry i, and returns it.
func (p *ioPath) partial(to *PartialError, op string, pe *store.PartialError, key func(i int) string) *PartialError {
	if to == nil {
		to = &PartialError{Op: op, Namespace: p.name}
	}
	for j, i := range pe.Failed {
		to.add(key(i), pe.Errs[j])
	}
	return to
}

func (p *ioPath) exists(ctx context.Context, key, full string) (bool, error) {
	t0 := p.start()
	ok, err := p.store.Exists(ctx, full)
	p.observe(ctx, opExists, key, t0, 0, err)
	return ok, err
}

func (p *ioPath) ttlOf(ctx context.Context, key, full string) (time.Duration, bool, error) {
	t0 := p.start()
	ttl, found, err := p.store.TTL(ctx, full)
	p.observe(ctx, opTTL, key, t0, 0, err)
	return ttl, found, err
}

func (p *ioPath) expire(ctx context.Context, key, full string, ttl time.Duration) (bool, error) {
	t0 := p.start()
	ok, err := p.store.Expire(ctx, full, ttl)
	p.wroteNear(key)
	p.observe(ctx, opExpire, key, t0, 0, err)
	return ok, err
}

func (p *ioPath) setIfNewer(ctx context.Context, key, full, verKey string, b []byte, version uint64, ttl time.Duration) (bool, error) {
	if err := p.settle(ctx, full); err != nil {
		return false, err
	}
	t0 := p.start()
	applied, err := p.store.SetIfNewer(ctx, full, verKey, b, version, ttl)
	p.wroteNear(key)
	p.observe(ctx, opSet, key, t0, len(b), err)
	return applied, err
}

// clearAll removes every key of the namespace; the near tier forgets them
// all and reads none tracked for the own-write window.
func (p *ioPath) clearAll(ctx context.Context) (int64, error) {
	t0 := p.start()
	removed, err := p.store.DeletePrefix(ctx, p.base, p.batch)
	if p.near != nil {
		p.near.WroteAll(p.now().UnixNano())
	}
	p.observe(ctx, opClear, "", t0, 0, err)
	return removed, err
}
