package redisstore

import (
	"context"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache/internal/wake"
)

// releaseChannel is the Pub/Sub channel DeleteIfEqual announces each
// release on, with the key as the message. One channel for every key and
// prefix: a process hears every release on its server (on a cluster, PUBLISH
// reaches every node) and wakes only its own watchers of that key.
const releaseChannel = "tradecache:released"

// releaseRetry is how long the subscription waits before subscribing
// again after its connection failed.
const releaseRetry = 200 * time.Millisecond

// releases delivers releaseChannel to the goroutines watching keys. It
// subscribes on the first watch, not at connect: most processes never wait
// on a lock.
type releases struct {
	client rueidis.Client
	board  wake.Board
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newReleases(c rueidis.Client) *releases {
	ctx, cancel := context.WithCancel(context.Background())
	return &releases{client: c, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// WatchRelease implements store.ReleaseWatcher with a subscription to
// releaseChannel, made on the first call.
func (s *Store) WatchRelease(key string) (<-chan struct{}, func()) {
	r := s.releases
	r.once.Do(func() { go r.subscribe() })
	return r.board.Watch(key)
}

// subscribe listens on releaseChannel until stop, subscribing again
// after a failure (a dropped connection, a failover).
func (r *releases) subscribe() {
	defer close(r.done)
	for r.ctx.Err() == nil {
		cmd := r.client.B().Subscribe().Channel(releaseChannel).Build()
		_ = r.client.Receive(r.ctx, cmd, func(m rueidis.PubSubMessage) { r.board.Announce(m.Message) })
		select {
		case <-r.ctx.Done():
		case <-time.After(releaseRetry):
		}
	}
}

// stop ends the subscription and waits for it, if it was ever made.
func (r *releases) stop() {
	r.once.Do(func() { close(r.done) }) // never subscribed: nothing to wait for
	r.cancel()
	<-r.done
}
