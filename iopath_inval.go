package tradecache

import (
	"context"
	"fmt"

	"github.com/tradecache/tradecache/store"
)

// The I/O path's side of durable invalidation (invalqueue.go): what an
// invalidation that could not reach the store leaves behind, and the
// queued invalidations a write must apply before it is sent.

// forget drops key (full) from this process at once: the near tier, and
// the last known values that fail-safe would serve.
func (p *ioPath) forget(key, full string) {
	p.wroteNear(key)
	p.known.Forget(full)
}

// queueDeletes forgets the keys (full[i] for caller key keys[i]) whose
// delete could not reach the store for cause, and queues their deletes.
// It returns nil when every one was queued, and an error wrapping
// ErrInvalidationQueueFull and cause otherwise.
func (p *ioPath) queueDeletes(op string, keys, full []string, cause error) error {
	now := p.now()
	dropped := 0
	for i := range full {
		p.forget(keys[i], full[i])
		if p.inval.add(invalKey, full[i], 0, now) != nil {
			dropped++
		}
	}
	if dropped > 0 {
		return &OpError{Op: op, Namespace: p.name, Err: fmt.Errorf("%w: %d deletes not kept for when the store answers again: %w", ErrInvalidationQueueFull, dropped, cause)}
	}
	p.obs.warnLimited("tradecache: the store is unreachable: invalidations queued, applied when it answers again", "namespace", p.name, "op", op, "queued", p.inval.n.Load(), "error", cause)
	return nil
}

// queueClear is queueDeletes for a whole namespace.
func (p *ioPath) queueClear(cause error) error {
	if p.near != nil {
		p.near.WroteAll(p.now().UnixNano())
	}
	p.known.ForgetPrefix(p.base)
	if p.inval.add(invalClear, p.base, p.batch, p.now()) != nil {
		return &OpError{Op: "clear", Namespace: p.name, Err: fmt.Errorf("%w: %w", ErrInvalidationQueueFull, cause)}
	}
	p.obs.warnLimited("tradecache: the store is unreachable: namespace clear queued, applied when it answers again", "namespace", p.name, "error", cause)
	return nil
}

// settle applies this process's queued invalidations of full, a key of
// p's namespace, before a write of it: the clear of its namespace, then
// its delete. A write that an older invalidation could overtake would be
// deleted after it landed, or worse, outlive an invalidation its writer
// ordered first.
func (p *ioPath) settle(ctx context.Context, full string) error {
	if p.inval.n.Load() == 0 {
		return nil
	}
	if err := p.inval.settle(ctx, invalClear, p.base, p.applyInval); err != nil {
		return err
	}
	return p.inval.settle(ctx, invalKey, full, p.applyInval)
}

// awaitsInvalidation reports whether full waits for a queued delete or clear: a read
// treats it as missing until the invalidation lands.
func (p *ioPath) awaitsInvalidation(full string) bool {
	return p.inval.pendingKey(full, p.base) // an atomic load while nothing waits
}

// applyInval carries out one queued invalidation against the store.
func (b *backend) applyInval(ctx context.Context, e *queuedInval) error {
	switch e.kind {
	case invalKey:
		_, err := b.store.Delete(ctx, e.target)
		return err
	case invalTag:
		return b.tags.invalidate(ctx, []string{e.target})
	case invalClear:
		_, err := b.store.DeletePrefix(ctx, e.target, e.batch)
		return err
	}
	return fmt.Errorf("tradecache: unknown invalidation kind %d", e.kind)
}

// queueableFailures returns the indexes, into the batch, of the entries
// of a store.PartialError that failed for a reason that passes.
func queueableFailures(pe *store.PartialError) (idx []int, cause error) {
	for j, i := range pe.Failed {
		if queueable(pe.Errs[j]) {
			idx = append(idx, i)
			cause = pe.Errs[j]
		}
	}
	return idx, cause
}
