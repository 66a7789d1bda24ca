package guard

import (
	"context"
	"time"

	"github.com/tradecache/tradecache/store"
)

// Exposed returns s as a store.Store that also implements
// store.CachedReader and store.InfoReader exactly when the guarded store
// does, each call bounded and behind the breakers like the rest. A layer
// above can then ask the store what it can do, and never has to ask which
// backend it is.
func (s *Store) Exposed() store.Store {
	_, cached := s.next.(store.CachedReader)
	_, info := s.next.(store.InfoReader)
	switch {
	case cached && info:
		return cachedInfo{s}
	case cached:
		return cachedReader{s}
	case info:
		return infoReader{s}
	}
	return s
}

type cachedReader struct{ *Store }

type infoReader struct{ *Store }

type cachedInfo struct{ *Store }

var (
	_ store.CachedReader = cachedReader{}
	_ store.InfoReader   = infoReader{}
	_ store.CachedReader = cachedInfo{}
	_ store.InfoReader   = cachedInfo{}
	_ store.Store        = cachedInfo{}
)

// getCached is store.CachedReader.GetCached, bounded and breaker-guarded as
// Get is.
func (s *Store) getCached(ctx context.Context, key string, ttl time.Duration) ([]byte, bool, time.Time, error) {
	cr := s.next.(store.CachedReader)
	ctx, c, err := s.beginKey(ctx, s.op, key)
	if err != nil {
		return nil, false, time.Time{}, err
	}
	v, found, until, err := cr.GetCached(ctx, key, ttl)
	return v, found, until, c.end(err)
}

// getManyCached is store.CachedReader.GetManyCached, bounded and breaker-guarded
// as GetMany is (per partition on a partitioned store).
func (s *Store) getManyCached(ctx context.Context, keys []string, ttl time.Duration) ([][]byte, []time.Time, error) {
	cr := s.next.(store.CachedReader)
	if s.part != nil && len(keys) > 1 && !s.disabled {
		out := make([][]byte, len(keys))
		untils := make([]time.Time, len(keys))
		err := s.spread(ctx, len(keys), func(i int) string { return keys[i] }, func(ctx context.Context, idx []int) error {
			vals, us, err := cr.GetManyCached(ctx, pick(keys, idx), ttl)
			for j := range vals {
				out[at(idx, j)], untils[at(idx, j)] = vals[j], us[j]
			}
			return err
		})
		if err != nil && !isPartial(err) {
			return nil, nil, err
		}
		return out, untils, err
	}
	ctx, c, err := s.beginKeys(ctx, s.batch, len(keys), func(i int) string { return keys[i] })
	if err != nil {
		return nil, nil, err
	}
	vals, untils, err := cr.GetManyCached(ctx, keys, ttl)
	return vals, untils, c.end(err)
}

// info is store.InfoReader.Info, bounded and behind the breaker like
// every other call.
func (s *Store) info(ctx context.Context, sections ...string) (string, error) {
	ctx, c, err := s.begin(ctx, s.op)
	if err != nil {
		return "", err
	}
	v, err := s.next.(store.InfoReader).Info(ctx, sections...)
	return v, c.end(err)
}

// GetCached implements store.CachedReader.
func (s cachedReader) GetCached(ctx context.Context, key string, ttl time.Duration) ([]byte, bool, time.Time, error) {
	return s.getCached(ctx, key, ttl)
}

// GetManyCached implements store.CachedReader.
func (s cachedReader) GetManyCached(ctx context.Context, keys []string, ttl time.Duration) ([][]byte, []time.Time, error) {
	return s.getManyCached(ctx, keys, ttl)
}

// Info implements store.InfoReader.
func (s infoReader) Info(ctx context.Context, sections ...string) (string, error) {
	return s.info(ctx, sections...)
}

// GetCached implements store.CachedReader.
func (s cachedInfo) GetCached(ctx context.Context, key string, ttl time.Duration) ([]byte, bool, time.Time, error) {
	return s.getCached(ctx, key, ttl)
}

// GetManyCached implements store.CachedReader.
func (s cachedInfo) GetManyCached(ctx context.Context, keys []string, ttl time.Duration) ([][]byte, []time.Time, error) {
	return s.getManyCached(ctx, keys, ttl)
}

// Info implements store.InfoReader.
func (s cachedInfo) Info(ctx context.Context, sections ...string) (string, error) {
	return s.info(ctx, sections...)
}
