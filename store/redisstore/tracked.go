package redisstore

import (
	"context"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache/store"
)

// Tracked is a Store whose client tracks the keys it reads (RESP3 CLIENT
// TRACKING): it adds store.CachedReader. Open returns one when
// Options.OnInvalidations is set; a Store built without tracking does not
// offer the methods at all, so no layer above can take a plain read for a
// tracked one.
type Tracked struct{ *Store }

var _ store.CachedReader = (*Tracked)(nil)

// GetCached implements store.CachedReader with rueidis DoCache: the read
// is served from rueidis's per-connection cache when it can be, and the key
// is tracked so that the server invalidates it on change.
func (s *Tracked) GetCached(ctx context.Context, key string, ttl time.Duration) ([]byte, bool, time.Time, error) {
	if s.closed.Load() {
		return nil, false, time.Time{}, errClosed
	}
	res := s.client.DoCache(ctx, s.client.B().Get().Key(key).Cache(), ttl)
	until := time.Now().Add(ttl)
	if pxat := res.CachePXAT(); pxat > 0 {
		if t := time.UnixMilli(pxat); t.Before(until) {
			until = t
		}
	}
	v, found, err := bytesReply(res)
	return v, found, until, err
}

// GetManyCached implements store.CachedReader with rueidis DoMultiCache:
// one tracked GET per key, pipelined (client-side caching tracks GET, not
// MGET), served from rueidis's per-connection cache where it can be. On a
// cluster rueidis sends each node its share at once; the keys of nodes
// that fail are returned with a *store.PartialError, never as misses.
func (s *Tracked) GetManyCached(ctx context.Context, keys []string, ttl time.Duration) ([][]byte, []time.Time, error) {
	if s.closed.Load() {
		return nil, nil, errClosed
	}
	if len(keys) == 0 {
		return nil, nil, nil
	}
	cmds := make([]rueidis.CacheableTTL, len(keys))
	for i, k := range keys {
		cmds[i] = rueidis.CT(s.client.B().Get().Key(k).Cache(), ttl)
	}
	out := make([][]byte, len(keys))
	untils := make([]time.Time, len(keys))
	until := time.Now().Add(ttl)
	var f failures
	for i, r := range s.client.DoMultiCache(ctx, cmds...) {
		v, _, err := bytesReply(r)
		if err != nil {
			f.add(err, i)
			continue
		}
		out[i], untils[i] = v, until
		if pxat := r.CachePXAT(); pxat > 0 {
			if t := time.UnixMilli(pxat); t.Before(until) {
				untils[i] = t
			}
		}
	}
	err := f.err(len(keys))
	if err != nil && len(f.failed) == len(keys) {
		return nil, nil, err
	}
	return out, untils, err
}
