package tradecache

import (
	"context"

	"github.com/tradecache/tradecache/store"
)

// ping checks that the store answers, through the guard.
func (b *backend) ping(ctx context.Context) error { return b.store.Ping(ctx) }

// probe pings the store past the guard, so that a health check reaches it
// even while the breaker is open.
func (b *backend) probe(ctx context.Context) error {
	if b.guard != nil {
		return b.guard.Unwrap().Ping(ctx)
	}
	return b.store.Ping(ctx)
}

// info returns the store's INFO text, all of it or the sections named,
// when it has one.
func (b *backend) info(ctx context.Context, sections ...string) (string, bool) {
	ir, ok := b.store.(store.InfoReader)
	if !ok {
		return "", false
	}
	text, err := ir.Info(ctx, sections...)
	return text, err == nil
}
