package tradecache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/store"
)

// The one I/O path. Every call the layer makes to its store is made in this
// file, so that what each call needs happens once, in one order: batching
// by MaxBatchSize, the choice between a tracked read (kept in the near
// tier) and a plain one, the near tier's bookkeeping of this process's own
// writes, the mapping of store.PartialError onto PartialError, and the
// observation of latency, failures and spans. The public operations check
// keys and arguments, encode and decode, and call these.

// nearKeep is what a tracked read tells its caller for keeping the decoded
// value in the near tier.
type nearKeep struct {
	until int64  // unix nanoseconds: when the client-side copy stops being valid
	epoch uint64 // the key's near shard epoch before the read
	ok    bool   // the read was tracked, so its value may be kept
}

// trackable reports whether key may be read tracked now: n has a near tier
// (which it has only over a store that tracks), and this process has not
// written key within the own-write window.
func (n *Namespace) trackable(key string, now int64) bool {
	return n.near != nil && n.near.Settled(key, now)
}

// read reads one key, tracked when track is set and the key is trackable,
// and observes the call as k.
func (n *Namespace) read(ctx context.Context, k opKind, key, full string, track bool) (b []byte, found bool, kp nearKeep, err error) {
	t0 := n.start()
	if track && n.trackable(key, n.c.now().UnixNano()) {
		kp = nearKeep{epoch: n.near.Epoch(key), ok: true}
		var until time.Time
		b, found, until, err = n.c.cached.GetCached(ctx, full, n.nearTTL)
		kp.until = n.onClock(until)
	} else {
		b, found, err = n.c.store.Get(ctx, full)
	}
	n.c.observe(ctx, n, k, key, t0, len(b), err)
	return b, found, kp, err
}

// onClock turns a time the store gave by the system clock into the
// Cache's clock, in unix nanoseconds: what counts is how far ahead it is.
func (n *Namespace) onClock(t time.Time) int64 {
	return n.c.now().Add(time.Until(t)).UnixNano()
}

// keepNear keeps v, decoded from a tracked read described by kp, in the
// near tier until exp (unix nanoseconds) at the latest. An untracked read
// keeps nothing.
func (n *Namespace) keepNear(key string, v any, encoded int, kp nearKeep, exp int64) {
	if kp.ok {
		n.near.Put(key, v, int64(encoded+len(key)+64), min(kp.until, exp), kp.epoch)
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
func (n *Namespace) readMany(ctx context.Context, op string, keys, full []string, track bool, got func(i int, b []byte, kp nearKeep, err error)) (read int, partial *PartialError) {
	var cut error // a whole batch's failure
	for lo := 0; lo < len(full); lo += n.c.cfg.MaxBatchSize {
		hi := min(lo+n.c.cfg.MaxBatchSize, len(full))
		var (
			vals [][]byte
			kps  []nearKeep
			pe   *store.PartialError
		)
		if cut == nil {
			var err error
			vals, kps, err = n.readBatch(ctx, keys[lo:hi], full[lo:hi], track)
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
					partial = &PartialError{Op: op, Namespace: n.name}
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
// not read those p names: nil when p is nil, p when anything was served,
// and an *OpError with p's first cause when nothing was.
func (n *Namespace) batchErr(op string, p *PartialError, served int) error {
	switch {
	case p == nil:
		return nil
	case served == 0:
		return n.fail(op, "", p.Errs[0])
	}
	return p
}

// readBatch reads one batch: tracked, with how each value may be kept,
// when asked and every key is trackable; plain otherwise, kps nil.
func (n *Namespace) readBatch(ctx context.Context, keys, full []string, track bool) (vals [][]byte, kps []nearKeep, err error) {
	t0 := n.start()
	if track && n.near != nil {
		now := n.c.now().UnixNano()
		kps = make([]nearKeep, len(keys))
		for i, k := range keys {
			if !n.trackable(k, now) {
				kps = nil
				break
			}
			kps[i] = nearKeep{epoch: n.near.Epoch(k), ok: true}
		}
	}
	if kps != nil {
		var untils []time.Time
		vals, untils, err = n.c.cached.GetManyCached(ctx, full, n.nearTTL)
		for i := range untils {
			kps[i].until = n.onClock(untils[i])
		}
	} else {
		vals, err = n.c.store.GetMany(ctx, full)
	}
	n.c.observe(ctx, n, opGetMany, "", t0, 0, err)
	return vals, kps, err
}

// getEx reads key and resets its TTL in one round trip.
func (n *Namespace) getEx(ctx context.Context, key, full string, ttl time.Duration) ([]byte, bool, error) {
	t0 := n.start()
	b, found, err := n.c.store.GetEx(ctx, full, ttl)
	n.c.observe(ctx, n, opGet, key, t0, len(b), err)
	return b, found, err
}

// write stores b under key, observed as k. Whatever the outcome, this
// process's near tier forgets key and reads it untracked for the
// own-write window: a write that failed, or timed out, may still have
// been applied.
func (n *Namespace) write(ctx context.Context, k opKind, key, full string, b []byte, ttl time.Duration) error {
	t0 := n.start()
	err := n.c.store.Set(ctx, full, b, ttl)
	n.wroteNear(key)
	n.c.observe(ctx, n, k, key, t0, len(b), err)
	return err
}

// writeMany stores entries MaxBatchSize per round trip and returns how
// many were written, with a *PartialError naming the keys that were not
// (a shard down), or an *OpError when a batch failed whole (the batches
// after it are not sent). key(i) is entry i's caller key.
func (n *Namespace) writeMany(ctx context.Context, op string, entries []store.Entry, key func(i int) string) (int, error) {
	var (
		partial *PartialError
		written int
	)
	for lo := 0; lo < len(entries); lo += n.c.cfg.MaxBatchSize {
		hi := min(lo+n.c.cfg.MaxBatchSize, len(entries))
		t0 := n.start()
		err := n.c.store.SetMany(ctx, entries[lo:hi])
		for i := lo; i < hi; i++ {
			n.wroteNear(key(i))
		}
		n.c.observe(ctx, n, opSetMany, "", t0, len(entries[hi-1].Value), err)
		var pe *store.PartialError
		switch {
		case errors.As(err, &pe):
			// A shard down: the others' entries were written; name the
			// rest and go on with the next batch.
			partial = n.partial(partial, op, pe, func(i int) string { return key(lo + i) })
			written += hi - lo - len(pe.Failed)
		case err != nil:
			return written, n.fail(op, "", err)
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
func (n *Namespace) remove(ctx context.Context, op string, keys, full []string) (int64, error) {
	var (
		total   int64
		partial *PartialError
	)
	for lo := 0; lo < len(full); lo += n.c.cfg.MaxBatchSize {
		hi := min(lo+n.c.cfg.MaxBatchSize, len(full))
		t0 := n.start()
		d, err := n.c.store.Delete(ctx, full[lo:hi]...)
		n.wroteNear(keys[lo:hi]...)
		n.c.observe(ctx, n, opDelete, "", t0, 0, err)
		total += d
		var pe *store.PartialError
		switch {
		case errors.As(err, &pe):
			partial = n.partial(partial, op, pe, func(i int) string { return keys[lo+i] })
		case err != nil:
			return total, n.fail(op, "", err)
		}
	}
	if partial != nil {
		return total, partial
	}
	return total, nil
}

// partial adds the entries a store's *PartialError lists to p (made if
// nil), key(i) being the caller's key of entry i, and returns it.
func (n *Namespace) partial(p *PartialError, op string, pe *store.PartialError, key func(i int) string) *PartialError {
	if p == nil {
		p = &PartialError{Op: op, Namespace: n.name}
	}
	for j, i := range pe.Failed {
		p.add(key(i), pe.Errs[j])
	}
	return p
}

func (n *Namespace) exists(ctx context.Context, key, full string) (bool, error) {
	t0 := n.start()
	ok, err := n.c.store.Exists(ctx, full)
	n.c.observe(ctx, n, opExists, key, t0, 0, err)
	return ok, err
}

func (n *Namespace) ttlOf(ctx context.Context, key, full string) (time.Duration, bool, error) {
	t0 := n.start()
	ttl, found, err := n.c.store.TTL(ctx, full)
	n.c.observe(ctx, n, opTTL, key, t0, 0, err)
	return ttl, found, err
}

func (n *Namespace) expire(ctx context.Context, key, full string, ttl time.Duration) (bool, error) {
	t0 := n.start()
	ok, err := n.c.store.Expire(ctx, full, ttl)
	n.wroteNear(key)
	n.c.observe(ctx, n, opExpire, key, t0, 0, err)
	return ok, err
}

func (n *Namespace) setIfNewer(ctx context.Context, key, full, verKey string, b []byte, version uint64, ttl time.Duration) (bool, error) {
	t0 := n.start()
	applied, err := n.c.store.SetIfNewer(ctx, full, verKey, b, version, ttl)
	n.wroteNear(key)
	n.c.observe(ctx, n, opSet, key, t0, len(b), err)
	return applied, err
}

// clearAll removes every key of the namespace; the near tier forgets them
// all and reads none tracked for the own-write window.
func (n *Namespace) clearAll(ctx context.Context) (int64, error) {
	t0 := n.start()
	removed, err := n.c.store.DeletePrefix(ctx, n.base, n.c.cfg.MaxBatchSize)
	if n.near != nil {
		n.near.WroteAll(n.c.now().UnixNano())
	}
	n.c.observe(ctx, n, opClear, "", t0, 0, err)
	return removed, err
}

// lock takes and unlock releases get-or-load's cross-process lock on a
// key: SET NX PX with a token, and compare-and-delete. Neither is
// observed: they are the loader's bookkeeping, not the caller's reads.
func (n *Namespace) lock(ctx context.Context, full string, token []byte, ttl time.Duration) (bool, error) {
	return n.c.store.SetNX(ctx, lockKey(full), token, ttl)
}

func (n *Namespace) unlock(ctx context.Context, full string, token []byte) {
	_, _ = n.c.store.DeleteIfEqual(ctx, lockKey(full), token)
}

// lockKey names the lock of a stored key. Keys cannot contain spaces, so
// no caller's key can collide with it.
func lockKey(full string) string { return full + " lock" }

// ping checks that the store answers.
func (c *Cache) ping(ctx context.Context) error { return c.store.Ping(ctx) }

// info returns the store's INFO text, when it has one.
func (c *Cache) info(ctx context.Context) (string, bool) {
	ir, ok := c.store.(store.InfoReader)
	if !ok {
		return "", false
	}
	text, err := ir.Info(ctx)
	return text, err == nil
}

// encode encodes value for key with n's codec and checks it against
// MaxValueBytes, appending to dst. st, when not nil, stamps the value.
func (n *Namespace) encode(dst []byte, op, key, full string, value any, st *codec.Stamp) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	if st != nil {
		b, err = n.codec.AppendMarshalStamped(dst, full, value, *st)
	} else {
		b, err = n.codec.AppendMarshal(dst, full, value)
	}
	if err != nil {
		return b, &SerializationError{Op: op, Namespace: n.name, Key: key, Type: fmt.Sprintf("%T", value), Err: err}
	}
	return b, n.tooLarge(op, key, len(b)-len(dst))
}

// decode decodes b, read for key, into dst; a failure is counted against
// k and returned as a *SerializationError.
func (n *Namespace) decode(k opKind, op, key, full string, b []byte, dst any) error {
	if err := n.codec.Unmarshal(full, b, dst); err != nil {
		serr := &SerializationError{Op: op, Namespace: n.name, Key: key, Type: fmt.Sprintf("%T", dst), Err: err}
		n.failed(k, serr)
		return serr
	}
	return nil
}
