package tradecache

import (
	"context"
	"fmt"
	"github.com/tradecache/tradecache/codec"
	"reflect"
	"strings"
	"time"

	"github.com/tradecache/tradecache/store"
)

// Name returns the namespace's name.
func (n *Namespace) Name() string { return n.name }

// DefaultTTL returns the TTL that Set uses when given 0.
func (n *Namespace) DefaultTTL() time.Duration { return n.ttl }

func (n *Namespace) key(op, key string) (string, error) {
	if err := n.check(op, key); err != nil {
		return "", err
	}
	return n.base + key, nil
}

// check reports why key cannot be used now: the Cache is closed, or the
// namespace or key breaks the grammar.
func (n *Namespace) check(op, key string) error {
	if n.c.closed.Load() {
		return n.fail(op, key, errClosed)
	}
	if n.bad != "" {
		return &KeyError{Op: op, Namespace: n.name, Key: key, Reason: "namespace " + n.bad}
	}
	if reason := checkKey(key, n.c.cfg.MaxKeyLength); reason != "" {
		return &KeyError{Op: op, Namespace: n.name, Key: key, Reason: reason}
	}
	return nil
}

func (n *Namespace) keys(op string, keys []string) ([]string, error) {
	if err := n.tooMany(op, len(keys)); err != nil {
		return nil, err
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		var err error
		if full[i], err = n.key(op, k); err != nil {
			return nil, err
		}
	}
	return full, nil
}

var stringType = reflect.TypeFor[string]()

// callKeys is keys for a call that keeps none of them once it returns: the
// full keys are slices of one string, one allocation instead of one per
// key. Any one of them kept would keep them all alive, so a key that is
// retained (as get-or-load remembers keys for fail-safe) must come from
// keys instead.
func (n *Namespace) callKeys(op string, keys []string) ([]string, error) {
	if err := n.tooMany(op, len(keys)); err != nil {
		return nil, err
	}
	size := 0
	for _, k := range keys {
		if err := n.check(op, k); err != nil {
			return nil, err
		}
		size += len(n.base) + len(k)
	}
	var b strings.Builder
	b.Grow(size)
	for _, k := range keys {
		b.WriteString(n.base)
		b.WriteString(k)
	}
	all := b.String()
	full := make([]string, len(keys))
	off := 0
	for i, k := range keys {
		end := off + len(n.base) + len(k)
		full[i], off = all[off:end], end
	}
	return full, nil
}

func (n *Namespace) ttlFor(op, key string, ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl == 0:
		return n.ttl, nil
	case ttl < 0:
		return 0, invalidArg(op, n.name, key, "negative TTL %v", ttl)
	case ttl > MaxTTL:
		return 0, invalidArg(op, n.name, key, "TTL %v over MaxTTL (%v)", ttl, MaxTTL)
	}
	return ttl, nil
}

func checkDst(op, ns, key string, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return invalidArg(op, ns, key, "destination must be a non-nil pointer, got %T", dst)
	}
	return nil
}

// Set encodes value and stores it under key. A ttl of 0 means the
// namespace's policy; a negative ttl is an error. A value that cannot be
// encoded returns a *SerializationError and writes nothing. Tagged and
// TaggedAsOf tag the value (see InvalidateTag).
//
// An error that matches ErrTimeout or ErrUnavailable means the outcome is
// unknown: the command may have reached Redis and been applied (a 16 MiB
// Set that timed out after 100ms was found whole). The Cache treats it so:
// this process's near tier forgets the key either way, and nothing is
// retried.
func (n *Namespace) Set(ctx context.Context, key string, value any, ttl time.Duration, opts ...SetOption) error {
	const op = "set"
	full, err := n.key(op, key)
	if err != nil {
		return err
	}
	if ttl, err = n.ttlFor(op, key, ttl); err != nil {
		return err
	}
	var tags []codec.Tag
	if len(opts) > 0 {
		if tags, err = n.tagsFor(ctx, op, key, opts); err != nil {
			return err
		}
	}
	bp := n.c.bufs.Get().(*[]byte)
	b, err := n.encodeTagged((*bp)[:0], op, key, full, value, nil, tags)
	if err != nil {
		n.c.bufs.Put(bp)
		return err
	}
	if err := n.write(ctx, opSet, key, full, b, ttl); err != nil {
		// The buffer is not reused: a store may still be writing it (a
		// rueidis call abandoned on cancellation is sent later), and
		// reusing it could put another value's bytes under this key.
		return n.fail(op, key, err)
	}
	if cap(b) <= 64<<10 {
		*bp = b
		n.c.bufs.Put(bp)
	}
	n.wrote(1)
	return nil
}

// Get reads key into dst, which must be a non-nil pointer. found is false,
// with a nil error, when the key does not exist. Bytes that cannot be
// decoded into dst return a *SerializationError.
func (n *Namespace) Get(ctx context.Context, key string, dst any) (found bool, err error) {
	const op = "get"
	full, err := n.key(op, key)
	if err != nil {
		return false, err
	}
	if err := checkDst(op, n.name, key, dst); err != nil {
		return false, err
	}
	b, found, _, err := n.read(ctx, opGet, key, full, false)
	return n.finishRead(ctx, op, key, full, b, found, err, dst)
}

// finishRead completes a single-key read: it decodes a found value into
// dst and counts the hit, the miss or the serialization error.
func (n *Namespace) finishRead(ctx context.Context, op, key, full string, b []byte, found bool, err error, dst any) (bool, error) {
	if err != nil {
		return false, n.fail(op, key, err)
	}
	if found {
		if _, err = n.decode(ctx, opGet, op, key, full, b, dst); err == errInvalidated {
			found = false
		} else if err != nil {
			return false, err
		}
	}
	if !found {
		n.miss(1)
		return false, nil
	}
	n.hit(1)
	return true, nil
}

// Touch reads key into dst and, if it exists, resets its TTL to ttl in
// the same round trip (GETEX): a sliding expiry. ttl 0 means the
// namespace's policy.
func (n *Namespace) Touch(ctx context.Context, key string, dst any, ttl time.Duration) (found bool, err error) {
	const op = "touch"
	full, err := n.key(op, key)
	if err != nil {
		return false, err
	}
	if err := checkDst(op, n.name, key, dst); err != nil {
		return false, err
	}
	if ttl, err = n.ttlFor(op, key, ttl); err != nil {
		return false, err
	}
	b, found, err := n.getEx(ctx, key, full, ttl)
	return n.finishRead(ctx, op, key, full, b, found, err, dst)
}

// Delete removes keys and returns how many existed. Keys are sent in
// batches of MaxBatchSize. On a cluster with a shard down, the other
// shards' keys are removed and a *PartialError names the rest, which may
// still exist; the count is of the keys removed.
func (n *Namespace) Delete(ctx context.Context, keys ...string) (int64, error) {
	const op = "delete"
	full, err := n.callKeys(op, keys)
	if err != nil {
		return 0, err
	}
	removed, err := n.remove(ctx, op, keys, full)
	n.deleted(removed)
	return removed, err
}

// Exists reports whether key exists.
func (n *Namespace) Exists(ctx context.Context, key string) (bool, error) {
	const op = "exists"
	full, err := n.key(op, key)
	if err != nil {
		return false, err
	}
	ok, err := n.exists(ctx, key, full)
	if err != nil {
		return false, n.fail(op, key, err)
	}
	return ok, nil
}

// NoExpiry is the TTL reported for a key that never expires.
const NoExpiry = store.NoExpiry

// TTL returns key's remaining time to live: NoExpiry when it has none, and
// found false when the key does not exist.
func (n *Namespace) TTL(ctx context.Context, key string) (ttl time.Duration, found bool, err error) {
	const op = "ttl"
	full, err := n.key(op, key)
	if err != nil {
		return 0, false, err
	}
	ttl, found, err = n.ttlOf(ctx, key, full)
	if err != nil {
		return 0, false, n.fail(op, key, err)
	}
	return ttl, found, nil
}

// Expire sets a new TTL on an existing key and reports whether it existed.
// ttl 0 means the namespace's policy; a negative ttl is an error.
func (n *Namespace) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	const op = "expire"
	full, err := n.key(op, key)
	if err != nil {
		return false, err
	}
	if ttl, err = n.ttlFor(op, key, ttl); err != nil {
		return false, err
	}
	ok, err := n.expire(ctx, key, full, ttl)
	if err != nil {
		return false, n.fail(op, key, err)
	}
	return ok, nil
}

// SetMany stores every item with the same ttl (0 means the policy). It
// checks every key and encodes every value before sending anything, so a
// bad key or an unencodable value writes nothing. Items are sent in batches
// of MaxBatchSize, one round trip each; a store failure part way leaves the
// earlier batches written. On a cluster with a shard down, the other
// shards' items are written and a *PartialError names the rest. Tagged
// and TaggedAsOf tag every item, with the tags' tokens read once.
func (n *Namespace) SetMany(ctx context.Context, items map[string]any, ttl time.Duration, opts ...SetOption) error {
	const op = "set_many"
	if n.c.closed.Load() {
		return n.fail(op, "", errClosed)
	}
	var err error
	if ttl, err = n.ttlFor(op, "", ttl); err != nil {
		return err
	}
	if err := n.tooMany(op, len(items)); err != nil {
		return err
	}
	var tags []codec.Tag // every item carries the same tags, read once
	if len(opts) > 0 {
		if tags, err = n.tagsFor(ctx, op, "", opts); err != nil {
			return err
		}
	}
	entries := make([]store.Entry, 0, len(items))
	ends := make([]int, 0, len(items))
	var buf []byte
	for k, v := range items {
		full, err := n.key(op, k)
		if err != nil {
			return err
		}
		if buf, err = n.encodeTagged(buf, op, k, full, v, nil, tags); err != nil {
			return err
		}
		entries = append(entries, store.Entry{Key: full, TTL: ttl})
		ends = append(ends, len(buf))
	}
	// Slice the values only now: buf may have moved while it grew.
	start := 0
	for i := range entries {
		entries[i].Value = buf[start:ends[i]]
		start = ends[i]
	}
	written, err := n.writeMany(ctx, op, entries, func(i int) string { return entries[i].Key[len(n.base):] })
	n.wrote(written)
	return err
}

// GetMany reads keys into the map that dst points to (a *map[string]T;
// a nil map is made) and returns how many were found. Missing keys are left
// out of the map. Keys are read in batches of MaxBatchSize, one MGET each.
// A value that cannot be decoded returns a *SerializationError after every
// other value has been decoded.
//
// Keys that could not be read (a cluster shard down, or the store failing
// after earlier batches were read; the batches after a failed one are not
// sent) are named by a *PartialError beside the values that were; when
// none could be read the error is an *OpError.
func (n *Namespace) GetMany(ctx context.Context, keys []string, dst any) (int, error) {
	const op = "get_many"
	full, err := n.callKeys(op, keys)
	if err != nil {
		return 0, err
	}
	mp := reflect.ValueOf(dst)
	if mp.Kind() != reflect.Pointer || mp.IsNil() || mp.Elem().Kind() != reflect.Map || mp.Elem().Type().Key().Kind() != reflect.String {
		return 0, invalidArg(op, n.name, "", "destination must be a non-nil *map[string]T, got %T", dst)
	}
	m := mp.Elem()
	if m.IsNil() {
		m.Set(reflect.MakeMapWithSize(m.Type(), len(keys)))
	}
	keyType := m.Type().Key()
	// One decode target, zeroed before each value and copied into the map
	// (a zeroed target holds no slice or map for the decoder to reuse).
	v := reflect.New(m.Type().Elem())
	found, missed := 0, 0
	var firstErr error
	read, partial := n.readMany(ctx, op, keys, full, false, func(i int, b []byte, _ nearKeep, err error) {
		switch {
		case err != nil:
			return
		case b == nil:
			missed++
			return
		}
		v.Elem().SetZero()
		if _, err := n.decode(ctx, opGetMany, op, keys[i], full[i], b, v.Interface()); err == errInvalidated {
			missed++
			return
		} else if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return
		}
		mk := reflect.ValueOf(&keys[i]).Elem() // no copy of the string into an interface
		if keyType != stringType {
			mk = mk.Convert(keyType)
		}
		m.SetMapIndex(mk, v.Elem())
		found++
	})
	// Counted once per batch: two shared atomics per key cost more than
	// the decode at 50 goroutines.
	n.hit(found)
	n.miss(missed)
	if err := n.batchErr(op, partial, read); err != nil {
		return found, err
	}
	return found, firstErr
}

// Clear removes every key of the namespace and returns how many it removed.
// On Redis it walks the namespace with SCAN MATCH and removes each page with
// UNLINK, MaxBatchSize keys at a time; it never uses KEYS, FLUSHDB or
// FLUSHALL, so it neither blocks Redis nor touches other namespaces. On a
// cluster it scans every master, then sweeps again the slots that a
// reshard moved while it scanned.
func (n *Namespace) Clear(ctx context.Context) (int64, error) {
	const op = "clear"
	if n.c.closed.Load() {
		return 0, n.fail(op, "", errClosed)
	}
	if n.bad != "" {
		return 0, &KeyError{Op: op, Namespace: n.name, Reason: "namespace " + n.bad}
	}
	removed, err := n.clearAll(ctx)
	n.deleted(removed)
	if err != nil && queueable(err) {
		return removed, n.queueClear(err)
	}
	if err != nil {
		return removed, n.fail(op, "", err)
	}
	return removed, nil
}

// tooMany checks a batch against MaxBatchKeys.
func (n *Namespace) tooMany(op string, count int) error {
	if count > n.c.cfg.MaxBatchKeys {
		return &ArgumentError{Op: op, Namespace: n.name, Err: fmt.Errorf("%w: %d keys in one call, limit %d (CACHE_MAX_BATCH_KEYS)", ErrTooLarge, count, n.c.cfg.MaxBatchKeys)}
	}
	return nil
}

// Set stores value under key in the default namespace. See Namespace.Set.
func (c *Cache) Set(ctx context.Context, key string, value any, ttl time.Duration, opts ...SetOption) error {
	return c.def.Set(ctx, key, value, ttl, opts...)
}

// Get reads key from the default namespace into dst. See Namespace.Get.
func (c *Cache) Get(ctx context.Context, key string, dst any) (bool, error) {
	return c.def.Get(ctx, key, dst)
}

// Delete removes keys from the default namespace. See Namespace.Delete.
func (c *Cache) Delete(ctx context.Context, keys ...string) (int64, error) {
	return c.def.Delete(ctx, keys...)
}

// Exists reports whether key exists in the default namespace.
func (c *Cache) Exists(ctx context.Context, key string) (bool, error) {
	return c.def.Exists(ctx, key)
}

// TTL returns key's remaining TTL in the default namespace. See
// Namespace.TTL.
func (c *Cache) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	return c.def.TTL(ctx, key)
}

// Expire sets key's TTL in the default namespace. See Namespace.Expire.
func (c *Cache) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return c.def.Expire(ctx, key, ttl)
}

// SetMany stores items in the default namespace. See Namespace.SetMany.
func (c *Cache) SetMany(ctx context.Context, items map[string]any, ttl time.Duration, opts ...SetOption) error {
	return c.def.SetMany(ctx, items, ttl, opts...)
}

// GetMany reads keys from the default namespace into the map dst points
// to. See Namespace.GetMany.
func (c *Cache) GetMany(ctx context.Context, keys []string, dst any) (int, error) {
	return c.def.GetMany(ctx, keys, dst)
}

// ClearNamespace removes every key of namespace ns and returns how many it
// removed. See Namespace.Clear.
func (c *Cache) ClearNamespace(ctx context.Context, ns string) (int64, error) {
	return c.Namespace(ns).Clear(ctx)
}
