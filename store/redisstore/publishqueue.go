package redisstore

import (
	"context"
	"sync"
	"time"

	"github.com/tradecache/tradecache/store"
)

// publishQueue makes concurrent Publish calls share calls of the publish
// script, as a database's group commit does. A few senders (goroutines of
// the store, started by its first Publish and stopped by Close) each take
// the first waiting publication and whatever else is waiting behind it,
// up to maxPublishBatch, and send them in one call: a lone publisher's
// call goes at once, and under load each call carries many. Redis then
// parses and answers one command for many publications, and the client
// writes and reads one, which is where a publish spent most of its time
// beside a raw XADD. More than one sender keeps the connection busy while
// a call's reply travels back, as the client's own pipelining does.
//
// A caller waits for its publication's result or its context's end. A
// call is bounded by the latest deadline among its publications, so that
// one caller giving up fails no other, and a publication whose caller has
// already given up is not sent at all.
type publishQueue struct {
	start sync.Once
	calls chan *pubCall
	quit  chan struct{}
	wg    sync.WaitGroup
}

// publishSenders is how many calls of the publish script a store has in
// flight at most. Beside 50 publishing goroutines, 2 to 12 did about as
// well (BenchmarkPublishParallel: 66k to 78k publishes/s, within the
// machine's noise); the server's time per publication bounds it, not the
// number of calls in flight. One would leave the connection idle while a
// reply travels back.
const publishSenders = 3

// pubCall is one Publish waiting for its result.
type pubCall struct {
	p    store.Publication
	ctx  context.Context
	res  store.PublishResult
	done chan struct{} // closed once res is set
}

func (q *publishQueue) publish(ctx context.Context, s *Store, p store.Publication) (bool, string, error) {
	if p.TTL <= 0 {
		_, _, err := publishArgs(nil, nil, p)
		return false, "", err
	}
	q.start.Do(func() {
		q.calls, q.quit = make(chan *pubCall, 4*maxPublishBatch), make(chan struct{})
		q.wg.Add(publishSenders)
		for range publishSenders {
			go q.sender(s)
		}
	})
	c := &pubCall{p: p, ctx: ctx, done: make(chan struct{})}
	select {
	case q.calls <- c:
	case <-ctx.Done():
		return false, "", classify(ctx.Err())
	case <-q.quit:
		return false, "", errClosed
	}
	select {
	case <-c.done:
		return c.res.Applied, c.res.ID, c.res.Err
	case <-q.quit:
		return false, "", errClosed // the store closed: sent or not
	case <-ctx.Done():
		// Sent or not, its outcome is unknown to the caller, as that of
		// a call that times out on the wire is.
		return false, "", classify(ctx.Err())
	}
}

// stop ends the senders, once the store's client is closed (so that a
// call in flight ends at once), and fails what is still waiting.
func (q *publishQueue) stop() {
	q.start.Do(func() {}) // none start after this
	if q.quit == nil {
		return
	}
	close(q.quit)
	q.wg.Wait()
	for {
		select {
		case c := <-q.calls:
			c.res = store.PublishResult{Err: errClosed}
			close(c.done)
		default:
			return
		}
	}
}

func (q *publishQueue) sender(s *Store) {
	defer q.wg.Done()
	batch := make([]*pubCall, 0, maxPublishBatch)
	for {
		select {
		case c := <-q.calls:
			batch = append(batch[:0], c)
		case <-q.quit:
			return
		}
	more:
		for len(batch) < maxPublishBatch {
			select {
			case c := <-q.calls:
				batch = append(batch, c)
			default:
				break more
			}
		}
		q.send(s, batch)
		clear(batch)
	}
}

// send makes one call of the script for the publications of batch whose
// callers still wait, and hands each its result.
func (q *publishQueue) send(s *Store, batch []*pubCall) {
	keys := make([]string, 0, 3*len(batch))
	args := make([]string, 0, 6*len(batch))
	deadline, bounded := time.Time{}, true
	live := batch[:0:0]
	for _, c := range batch {
		if c.ctx.Err() != nil {
			continue // its caller has gone: not sent
		}
		live = append(live, c)
		keys, args, _ = publishArgs(keys, args, c.p)
		if d, ok := c.ctx.Deadline(); !ok {
			bounded = false
		} else if d.After(deadline) {
			deadline = d
		}
	}
	if len(live) == 0 {
		return
	}
	ctx := context.WithoutCancel(live[0].ctx)
	if bounded {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	res := make([]store.PublishResult, len(live))
	publishReplies(publish.Exec(ctx, s.client, keys, args), res)
	for i, c := range live {
		c.res = res[i]
		close(c.done)
	}
}
