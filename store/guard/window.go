package guard

import (
	"math"
	"sync/atomic"
	"time"
)

// window counts a closed breaker's requests and failures, as gobreaker's
// Counts do, for the trip rule, so that a call on a closed breaker with no
// recent failure costs one atomic load: no mutex, no clock read, no
// closure (gobreaker's TwoStep Allow takes all three, twice a call).
//
// It is idle until a failure starts it; an idle window means the last
// Interval had no failure, and successes need no counting then, since
// only a failure can trip the breaker. A started window counts every call
// until Interval has passed since the failure that started it, then goes
// idle at the next success (the only clock read on the success path, and
// only while a window runs). The ratio rule therefore weighs the calls
// since the first failure of an interval, not the successes before it,
// and MinRequests counts from that failure.
//
// The counters are updated without a lock: under concurrent calls a count
// can be off by the calls that raced a window's start, which moves the
// trip point by a call or two.
type window struct {
	interval    int64 // nanoseconds; 0: never ends
	running     atomic.Bool
	until       atomic.Int64 // unix nanoseconds
	requests    atomic.Uint32
	failures    atomic.Uint32
	consecutive atomic.Uint32
}

// succeeded counts a success.
func (w *window) succeeded() {
	if !w.running.Load() {
		return
	}
	if w.interval > 0 && time.Now().UnixNano() > w.until.Load() {
		w.running.Store(false)
		return
	}
	w.requests.Add(1)
	if w.consecutive.Load() != 0 {
		w.consecutive.Store(0)
	}
}

// failed counts a failure, starting a window if none runs.
func (w *window) failed() {
	if now := time.Now().UnixNano(); !w.running.Load() || w.interval > 0 && now > w.until.Load() {
		w.reset()
		until := int64(math.MaxInt64)
		if w.interval > 0 {
			until = now + w.interval
		}
		w.until.Store(until)
		w.running.Store(true)
	}
	w.requests.Add(1)
	w.failures.Add(1)
	w.consecutive.Add(1)
}

// reset forgets every count: the breaker changed state.
func (w *window) reset() {
	w.running.Store(false)
	w.requests.Store(0)
	w.failures.Store(0)
	w.consecutive.Store(0)
}

// trips is the breaker's rule on the window's counts.
func (w *window) trips(o *Options) bool {
	req := w.requests.Load()
	return w.consecutive.Load() >= o.ConsecutiveFailures ||
		req >= o.MinRequests && float64(w.failures.Load()) >= o.FailureRatio*float64(req)
}
