package guard

import (
	"context"
	"time"

	"github.com/tradecache/tradecache/store"
)

// Streams returns the guarded store's stream operations, each bounded and
// behind the breakers like the rest, or nil when the store keeps no
// streams. A blocking read is bounded by how long it may block plus the
// single-call bound: waiting for an entry is not a slow server. Its
// deadline passing is not held against the breaker either: a blocking
// read waits on its own pool (sized to MaxConnections), and many readers
// queueing for it, or a read that found nothing, say nothing of Redis;
// only a refused or broken connection counts.
func (s *Store) Streams() store.Streams {
	if _, ok := s.next.(store.Streams); !ok {
		return nil
	}
	return streams{s}
}

type streams struct{ s *Store }

func (g streams) next() store.Streams { return g.s.next.(store.Streams) }

func (g streams) Publish(ctx context.Context, p store.Publication) (bool, string, error) {
	ctx, c, err := g.s.beginKey(ctx, g.s.op, p.Key)
	if err != nil {
		return false, "", err
	}
	ok, id, err := g.next().Publish(ctx, p)
	return ok, id, c.end(err)
}

func (g streams) PublishMany(ctx context.Context, ps []store.Publication) ([]store.PublishResult, error) {
	ctx, c, err := g.s.beginKeys(ctx, g.s.batch, len(ps), func(i int) string { return ps[i].Key })
	if err != nil {
		return nil, err
	}
	out, err := g.next().PublishMany(ctx, ps)
	return out, c.end(err)
}

func (g streams) Snapshot(ctx context.Context, key, verKey, stream string) (store.Snap, error) {
	ctx, c, err := g.s.beginKey(ctx, g.s.op, key)
	if err != nil {
		return store.Snap{}, err
	}
	snap, err := g.next().Snapshot(ctx, key, verKey, stream)
	return snap, c.end(err)
}

func (g streams) Read(ctx context.Context, streams, ids []string, count int, block time.Duration) ([][]store.StreamEntry, error) {
	if len(streams) == 0 {
		return nil, nil
	}
	ctx, c, err := g.s.beginKey(ctx, block+g.s.batch, streams[0])
	if err != nil {
		return nil, err
	}
	c.blocking = block > 0
	out, err := g.next().Read(ctx, streams, ids, count, block)
	return out, c.end(err)
}

func (g streams) Range(ctx context.Context, stream, start, end string, count int) ([]store.StreamEntry, error) {
	ctx, c, err := g.s.beginKey(ctx, g.s.batch, stream)
	if err != nil {
		return nil, err
	}
	out, err := g.next().Range(ctx, stream, start, end, count)
	return out, c.end(err)
}

func (g streams) GroupRead(ctx context.Context, stream, group, consumer string, count int, block time.Duration) ([]store.StreamEntry, error) {
	ctx, c, err := g.s.beginKey(ctx, block+g.s.batch, stream)
	if err != nil {
		return nil, err
	}
	c.blocking = block > 0
	out, err := g.next().GroupRead(ctx, stream, group, consumer, count, block)
	return out, c.end(err)
}

func (g streams) Ack(ctx context.Context, stream, group string, ids ...string) error {
	ctx, c, err := g.s.beginKey(ctx, g.s.op, stream)
	if err != nil {
		return err
	}
	return c.end(g.next().Ack(ctx, stream, group, ids...))
}

func (g streams) Claim(ctx context.Context, stream, group, consumer string, minIdle time.Duration, start string, count int) ([]store.StreamEntry, string, error) {
	ctx, c, err := g.s.beginKey(ctx, g.s.batch, stream)
	if err != nil {
		return nil, "", err
	}
	out, next, err := g.next().Claim(ctx, stream, group, consumer, minIdle, start, count)
	return out, next, c.end(err)
}

func (g streams) DeadLetter(ctx context.Context, stream, group, dead string, e store.StreamEntry, reason string) error {
	ctx, c, err := g.s.beginKey(ctx, g.s.op, stream)
	if err != nil {
		return err
	}
	return c.end(g.next().DeadLetter(ctx, stream, group, dead, e, reason))
}

func (g streams) Pending(ctx context.Context, stream, group string) (int64, error) {
	ctx, c, err := g.s.beginKey(ctx, g.s.op, stream)
	if err != nil {
		return 0, err
	}
	n, err := g.next().Pending(ctx, stream, group)
	return n, c.end(err)
}
