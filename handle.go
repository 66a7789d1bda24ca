package tradecache

import (
	"context"
	"time"
)

// Handle is a typed view of a namespace: every value in it is a T, read and
// written without a destination pointer or an any, and without a type
// parameter at each call.
//
//	quotes := tradecache.Of[trading.Quote](cache, tradecache.NamespaceMarketData)
//	q, found, err := quotes.Get(ctx, "AAPL:quote")
//	book, err := quotes.GetMany(ctx, keys)
//
// It is the way to read typed values; Namespace stays for untyped work
// (raw bytes, Delete, Clear, TTLs) and is what a Handle is built on: both
// go through the one I/O path, with the same keys, policies, breaker and
// counters. A T with generated canonical methods (cmd/tradecache-gen) is
// encoded and decoded without reflection.
//
// A Handle is as safe for concurrent use as its Namespace, and costs
// nothing to make: Of may be called per request.
type Handle[T any] struct {
	ns *Namespace
}

// Of returns the typed handle of namespace name in c.
func Of[T any](c *Cache, name string) Handle[T] { return Handle[T]{ns: c.Namespace(name)} }

// OfNamespace returns the typed handle of ns.
func OfNamespace[T any](ns *Namespace) Handle[T] { return Handle[T]{ns: ns} }

// Namespace is the namespace the handle reads and writes.
func (h Handle[T]) Namespace() *Namespace { return h.ns }

// Get reads key. found is false for a missing key (v is then T's zero
// value); errors are Namespace.Get's.
func (h Handle[T]) Get(ctx context.Context, key string) (v T, found bool, err error) {
	found, err = h.ns.Get(ctx, key, &v)
	if err != nil || !found {
		var zero T
		return zero, found, err
	}
	return v, true, nil
}

// GetMany reads keys, MaxBatchSize per round trip; missing keys are absent
// from the map. Errors are Namespace.GetMany's: a *PartialError beside
// the values read when some keys could not be, a *SerializationError
// after every other value was decoded.
func (h Handle[T]) GetMany(ctx context.Context, keys []string) (map[string]T, error) {
	return getMany[T](ctx, h.ns, keys, false)
}

// GetManyFunc is GetMany without the map: it calls fn with each value
// found and its key's index in keys, in no particular order, and returns
// GetMany's error. A batch reader that keeps its values its own way (by
// another key, in a slice) saves building a map it would throw away.
func (h Handle[T]) GetManyFunc(ctx context.Context, keys []string, fn func(i int, v T)) error {
	_, err := eachOf(ctx, h.ns, keys, false, fn)
	return err
}

// GetManyNearFunc is GetManyFunc through the near tier (GetManyNear).
func (h Handle[T]) GetManyNearFunc(ctx context.Context, keys []string, fn func(i int, v T)) error {
	_, err := eachOf(ctx, h.ns, keys, h.ns.near != nil, fn)
	return err
}

// GetNear is Get through the namespace's near tier (GetNear): a held value
// is returned without a round trip, and is shared, not to be modified.
func (h Handle[T]) GetNear(ctx context.Context, key string) (T, bool, error) {
	return GetNear[T](ctx, h.ns, key)
}

// GetManyNear is GetMany through the near tier (GetManyNear).
func (h Handle[T]) GetManyNear(ctx context.Context, keys []string) (map[string]T, error) {
	return GetManyNear[T](ctx, h.ns, keys)
}

// Set stores v under key for ttl (0: the namespace's policy).
func (h Handle[T]) Set(ctx context.Context, key string, v T, ttl time.Duration, opts ...SetOption) error {
	return h.ns.Set(ctx, key, v, ttl, opts...)
}

// SetMany stores every item with one ttl; see Namespace.SetMany.
func (h Handle[T]) SetMany(ctx context.Context, items map[string]T, ttl time.Duration, opts ...SetOption) error {
	boxed := make(map[string]any, len(items))
	for k, v := range items {
		boxed[k] = v
	}
	return h.ns.SetMany(ctx, boxed, ttl, opts...)
}

// SetIfNewer stores v only if version is above the stored one; see
// Namespace.SetIfNewer.
func (h Handle[T]) SetIfNewer(ctx context.Context, key string, v T, version uint64, ttl time.Duration) (bool, error) {
	return h.ns.SetIfNewer(ctx, key, v, version, ttl)
}

// Delete removes keys and returns how many existed.
func (h Handle[T]) Delete(ctx context.Context, keys ...string) (int64, error) {
	return h.ns.Delete(ctx, keys...)
}

// GetOrLoad reads key, or loads, stores and returns it; see GetOrLoad.
func (h Handle[T]) GetOrLoad(ctx context.Context, key string, load func(context.Context) (T, error), opts ...LoadOption) (T, Meta, error) {
	return GetOrLoad(ctx, h.ns, key, load, opts...)
}

// GetManyOrLoad reads keys and loads the missing ones in one call; see
// GetManyOrLoad.
func (h Handle[T]) GetManyOrLoad(ctx context.Context, keys []string, load func(ctx context.Context, missing []string) (map[string]T, error), opts ...LoadOption) (map[string]T, map[string]Meta, error) {
	return GetManyOrLoad(ctx, h.ns, keys, load, opts...)
}
