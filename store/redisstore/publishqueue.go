package redisstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tradecache/tradecache/store"
)

// publishQueue makes concurrent Publish calls share calls of the publish
// script, as a database's group commit does. A Publish that finds no call
// in flight sends its own publication at once, on its own goroutine: a
// lone publisher waits for nothing, not even a goroutine switch. Those
// that come while calls are in flight queue for a few senders (goroutines
// of the store, started when first needed and stopped by Close), each of
// which takes the first waiting publication and whatever else is waiting
// behind it, up to maxPublishBatch, and sends them in one call. Redis then
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
	busy  atomic.Int32 // calls in flight
	start sync.Once
	calls chan *pubCall
	quit  chan struct{}
	stops sync.Once
	wg    sync.WaitGroup
}

// publishSenders is how many calls of the publish script a store has in
// flight at most. Beside 50 publishing goroutines, measured with Redis's
// commandstats and CPU figures over 300,000 publishes: 6 and 12 senders
// made calls half and a quarter as large, which cost the server more a
// publication and published slower (64k to 80k a second against 84k to
// 88k in the same runs); 1 and 2 left the server idler (67% to 77% busy)
// while a reply travelled back, and published 74k to 84k.
const publishSenders = 3

// pubCall is one Publish waiting for its result.
type pubCall struct {
	p    store.Publication
	ctx  context.Context
	res  store.PublishResult
	done chan struct{} // closed once res is set
}

func (q *publishQueue) publish(ctx context.Context, s *Store, p store.Publication) (bool, string, error) {
	if err := checkPublication(p); err != nil {
		return false, "", err
	}
	// Nothing in flight: a call of its own, at once. Handing it to a
	// sender would cost a lone publisher two goroutine switches (15 to
	// 20 us a publish on this machine, BenchmarkPublish).
	if q.busy.CompareAndSwap(0, 1) {
		defer q.busy.Add(-1)
		return s.publishOne(ctx, p)
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
// call in flight ends at once), and fails what is still waiting. A queue
// that never started gets a closed quit, so that a Publish racing Close
// returns rather than waits on senders that will never run.
func (q *publishQueue) stop() {
	q.stops.Do(func() {
		started := true
		q.start.Do(func() { started, q.quit = false, make(chan struct{}) })
		close(q.quit)
		if !started {
			return
		}
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
	})
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
	call := publishCall{keys: make([]string, 0, 3*len(batch)), pubs: make([]string, 0, 3*len(batch))}
	deadline, bounded := time.Time{}, true
	live := batch[:0:0]
	for _, c := range batch {
		if c.ctx.Err() != nil {
			continue // its caller has gone: not sent
		}
		live = append(live, c)
		_ = call.add(c.p) // checked by publish
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
	q.busy.Add(1)
	publishReplies(publish.Exec(ctx, s.client, call.keys, call.args()), res)
	q.busy.Add(-1)
	for i, c := range live {
		c.res = res[i]
		close(c.done)
	}
}
