package tradecache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tradecache/tradecache/store"
)

// publishStats writes this instance's published figures under key and
// announces member in roster, both for ttl. Like the lock, it is
// bookkeeping and not observed.
func (b *backend) publishStats(ctx context.Context, roster, member, key string, v []byte, ttl time.Duration) error {
	if err := b.store.Set(ctx, key, v, ttl); err != nil {
		return err
	}
	return b.store.Announce(ctx, roster, member, ttl)
}

// readStats returns the live members of roster (at most limit), with the
// time each has left, and the figures under key(member) for each, nil
// where there are none, read MaxBatchSize keys per round trip.
func (b *backend) readStats(ctx context.Context, roster string, limit int, key func(member string) string) ([]store.Member, [][]byte, error) {
	members, err := b.store.Members(ctx, roster, limit)
	if err != nil {
		return nil, nil, err
	}
	vals := make([][]byte, 0, len(members))
	for lo := 0; lo < len(members); lo += b.batch {
		hi := min(lo+b.batch, len(members))
		keys := make([]string, 0, hi-lo)
		for _, m := range members[lo:hi] {
			keys = append(keys, key(m.Name))
		}
		got, err := b.store.GetMany(ctx, keys)
		if err != nil {
			var pe *store.PartialError
			if !errors.As(err, &pe) {
				return nil, nil, err
			}
			// what could not be read is as good as absent: the instance is
			// left out, and its figures with it
		}
		vals = append(vals, got...)
	}
	return members, vals, nil
}

// observe records a store call of kind k.
func (p *ioPath) observe(ctx context.Context, k opKind, key string, start stamp, size int, err error) {
	p.obs.observe(ctx, p.name, &p.counts, k, key, start, size, err)
}

// start is when an operation's latency starts counting, if anything
// needs it.
func (p *ioPath) start() stamp { return p.obs.start() }

func (p *ioPath) hit(k int) {
	if k == 0 {
		return
	}
	p.obs.total.hits.Add(uint64(k))
	p.counts.hits.Add(uint64(k))
}

func (p *ioPath) miss(k int) {
	if k == 0 {
		return
	}
	p.obs.total.misses.Add(uint64(k))
	p.counts.misses.Add(uint64(k))
}

func (p *ioPath) wrote(k int) {
	p.obs.total.sets.Add(uint64(k))
	p.counts.sets.Add(uint64(k))
}

func (p *ioPath) deleted(k int64) {
	p.obs.total.deletes.Add(uint64(k))
	p.counts.deletes.Add(uint64(k))
}

// failed counts an error of kind k outside a store call (a value that
// does not encode or decode).
func (p *ioPath) failed(k opKind, err error) { p.obs.failed(&p.counts, k, err) }

// fail wraps a store error for the caller.
func (p *ioPath) fail(op, key string, err error) error {
	return &OpError{Op: op, Namespace: p.name, Key: key, Err: err}
}

// tooLarge checks an encoded value against MaxValueBytes.
func (p *ioPath) tooLarge(op, key string, size int) error {
	if size > p.maxValue {
		return &ArgumentError{Op: op, Namespace: p.name, Key: key, Err: fmt.Errorf("%w: encoded value of %d bytes, limit %d (CACHE_MAX_VALUE_BYTES)", ErrTooLarge, size, p.maxValue)}
	}
	return nil
}

// wroteNear tells p's near tier, if any, that this process wrote keys.
func (p *ioPath) wroteNear(keys ...string) {
	if p.near == nil {
		return
	}
	now := p.now().UnixNano()
	for _, k := range keys {
		p.near.Wrote(k, now)
	}
}
