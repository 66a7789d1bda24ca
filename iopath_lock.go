package tradecache

import (
	"context"
	"time"
)

// lock takes and unlock releases get-or-load's cross-process lock on a
// key: SET NX PX with a token, and compare-and-delete. Neither is
// observed: they are the loader's bookkeeping, not the caller's reads.
func (p *ioPath) lock(ctx context.Context, full string, token []byte, ttl time.Duration) (bool, error) {
	return p.store.SetNX(ctx, lockKey(full), token, ttl)
}

func (p *ioPath) unlock(ctx context.Context, full string, token []byte) {
	_, _ = p.store.DeleteIfEqual(ctx, lockKey(full), token)
}

// watchRelease returns a channel closed when a process (this one or
// another) releases full's lock, and stop; a nil channel, which never
// closes, when the store cannot tell. It reads the store past the guard:
// a wait is not a call of the caller's.
func (p *ioPath) watchRelease(full string) (<-chan struct{}, func()) {
	if p.releases == nil {
		return nil, func() {}
	}
	return p.releases.WatchRelease(lockKey(full))
}

// lockKey names the lock of a stored key. Keys cannot contain spaces, so
// no caller's key can collide with it.
func lockKey(full string) string { return full + " lock" }
