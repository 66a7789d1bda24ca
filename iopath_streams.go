package tradecache

import (
	"context"
	"time"

	"github.com/tradecache/tradecache/store"
)

// The stream calls. Each checks that the store keeps streams, counts what
// it did for Stats, and observes its latency as the operation it is
// closest to (a publish is a set, a read a get, an ack a delete), on the
// Cache's clock. Blocking reads (Read, GroupRead) count their failures
// but not their latency, which is mostly the wait they asked for.

func (b *backend) streamsOrErr() (store.Streams, error) {
	if b.streams == nil {
		return nil, ErrNoStreams
	}
	return b.streams, nil
}

func (p *ioPath) publish(ctx context.Context, key string, pub store.Publication) (bool, string, error) {
	st, err := p.streamsOrErr()
	if err != nil {
		return false, "", err
	}
	t0 := p.start()
	applied, id, err := st.Publish(ctx, pub)
	p.wroteNear(key)
	p.observe(ctx, opSet, key, t0, len(pub.Value), err)
	p.streamCounts.countPublish(applied, err)
	return applied, id, err
}

func (p *ioPath) publishMany(ctx context.Context, keys []string, pubs []store.Publication) ([]store.PublishResult, error) {
	st, err := p.streamsOrErr()
	if err != nil {
		return nil, err
	}
	t0 := p.start()
	out, err := st.PublishMany(ctx, pubs)
	p.wroteNear(keys...)
	p.observe(ctx, opSetMany, "", t0, 0, err)
	for _, r := range out {
		p.streamCounts.countPublish(r.Applied, r.Err)
	}
	return out, err
}

func (p *ioPath) snapshot(ctx context.Context, key, full, verKey, stream string) (store.Snap, error) {
	st, err := p.streamsOrErr()
	if err != nil {
		return store.Snap{}, err
	}
	t0 := p.start()
	snap, err := st.Snapshot(ctx, full, verKey, stream)
	p.observe(ctx, opGet, key, t0, len(snap.Value), err)
	return snap, err
}

func (p *ioPath) readStreams(ctx context.Context, streams, ids []string, count int, block time.Duration) ([][]store.StreamEntry, error) {
	st, err := p.streamsOrErr()
	if err != nil {
		return nil, err
	}
	out, err := st.Read(ctx, streams, ids, count, block)
	now := p.now() // the Cache's clock, as every other figure: a test's clock moves lag too
	for _, es := range out {
		p.streamCounts.countRead(es, now)
	}
	if err != nil {
		p.failed(opGetMany, err)
	}
	return out, err
}

func (p *ioPath) streamRange(ctx context.Context, key, stream, start, end string, count int) ([]store.StreamEntry, error) {
	st, err := p.streamsOrErr()
	if err != nil {
		return nil, err
	}
	t0 := p.start()
	out, err := st.Range(ctx, stream, start, end, count)
	p.observe(ctx, opGetMany, key, t0, 0, err)
	return out, err
}

func (p *ioPath) groupRead(ctx context.Context, stream, group, consumer string, count int, block time.Duration) ([]store.StreamEntry, error) {
	st, err := p.streamsOrErr()
	if err != nil {
		return nil, err
	}
	out, err := st.GroupRead(ctx, stream, group, consumer, count, block)
	p.streamCounts.countRead(out, p.now())
	if err != nil {
		p.failed(opGetMany, err)
	}
	return out, err
}

func (p *ioPath) ack(ctx context.Context, stream, group string, ids []string) error {
	st, err := p.streamsOrErr()
	if err != nil {
		return err
	}
	t0 := p.start()
	err = st.Ack(ctx, stream, group, ids...)
	p.observe(ctx, opDelete, "", t0, 0, err)
	if err == nil {
		p.streamCounts.acked.Add(uint64(len(ids)))
	}
	return err
}

func (p *ioPath) claim(ctx context.Context, stream, group, consumer string, minIdle time.Duration, start string, count int) ([]store.StreamEntry, string, error) {
	st, err := p.streamsOrErr()
	if err != nil {
		return nil, "", err
	}
	t0 := p.start()
	out, next, err := st.Claim(ctx, stream, group, consumer, minIdle, start, count)
	p.observe(ctx, opGetMany, "", t0, 0, err)
	p.streamCounts.claimed.Add(uint64(len(out)))
	return out, next, err
}

func (p *ioPath) deadLetter(ctx context.Context, stream, group, dead string, e store.StreamEntry, reason string) error {
	st, err := p.streamsOrErr()
	if err != nil {
		return err
	}
	t0 := p.start()
	err = st.DeadLetter(ctx, stream, group, dead, e, reason)
	p.observe(ctx, opSet, "", t0, len(e.Value), err)
	if err == nil {
		p.streamCounts.deadLettered.Add(1)
	}
	return err
}

func (p *ioPath) pending(ctx context.Context, stream, group string) (int64, error) {
	st, err := p.streamsOrErr()
	if err != nil {
		return 0, err
	}
	t0 := p.start()
	n, err := st.Pending(ctx, stream, group)
	p.observe(ctx, opGet, "", t0, 0, err)
	return n, err
}
