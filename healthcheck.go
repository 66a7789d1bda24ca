package tradecache

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tradecache/tradecache/store/guard"
)

// Health is the state of the cache's store as last checked.
type Health struct {
	Backend string `json:"backend"`
	// Reachable is whether the last PING succeeded.
	Reachable bool `json:"reachable"`
	// PingLatency is the last PING's round trip.
	PingLatency time.Duration `json:"ping_latency_ns"`
	// Breaker is "closed", "half-open" or "open"; "none" on the in-process
	// store.
	Breaker string `json:"breaker"`
	// OpenParts and Parts count a cluster's slot-group breakers that are
	// not closed, and all of them (0 elsewhere). Breaker is "open" while
	// any part is: one dead shard is enough to say the cache is degraded.
	OpenParts int `json:"open_parts,omitempty"`
	Parts     int `json:"parts,omitempty"`
	// Ready says the cache serves from the store: the breaker closed, and
	// the store not failing FailedChecksBeforeNotReady checks in a row.
	Ready bool `json:"ready"`
	// ConsecutiveFailures counts the checks in a row that failed; a check
	// that timed out while this process was starved of CPU is not counted
	// (it says nothing about the store).
	ConsecutiveFailures int    `json:"consecutive_failures"`
	LastError           string `json:"last_error,omitempty"`
	// AuthFailing is true when the last check failed because the server
	// refused the credentials (a rotated password): the store is up, and
	// no amount of waiting will help until the configuration changes.
	AuthFailing bool      `json:"auth_failing,omitempty"`
	CheckedAt   time.Time `json:"checked_at"`
	// Since is when Reachable last changed.
	Since time.Time `json:"since"`
}

// recoveryInterval is how often the store is checked while it is
// unreachable or the breaker is not closed.
const recoveryInterval = 25 * time.Millisecond

// healthChecker pings the store in the background, so that a lost and
// regained connection shows in Health and in the logs without a caller's
// request having to find out.
type healthChecker struct {
	// mu makes checks one at a time: Cache.Health and the background
	// ticker both check, and each builds on the last result (failures in
	// a row, when reachability changed), which two at once would lose.
	mu   sync.Mutex
	last atomic.Pointer[Health]
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
	// server is the identity of the server(s) last seen (run_id from
	// INFO), and onServerChange what to do when it changes: a restart
	// that loaded an older snapshot, or a failover to a replica that was
	// behind, may have rewound the data.
	server         atomic.Pointer[string]
	onServerChange func(from, to string)
	// onTick runs after each tick's check, or lack of one, while the
	// store was reachable at the last check: it applies the invalidations
	// queued while it was not (Cache.drainInvalidations).
	onTick func()
}

// start checks b once, and then every interval in the background unless
// b is the in-process store, which has nothing to watch. Each check is
// bounded by timeout.
func (h *healthChecker) start(b *backend, interval, timeout time.Duration) {
	h.done = make(chan struct{})
	h.check(context.Background(), b, timeout)
	if b.guard == nil {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		// Check every interval, and every recoveryInterval while the
		// store is unreachable or the breaker is not closed (the breaker
		// opens between two checks, so it is looked at each tick, which
		// costs two atomic loads): the first check that reaches the store
		// makes the breaker half-open (guard.ProbeSucceeded), so calls
		// recover within that much of the store answering again, not when
		// the breaker's open timeout ends. A PING every 25 ms while Redis
		// is down costs nothing. Not while it refuses our credentials:
		// each check would dial again, and no amount of checking mends a
		// rotated password.
		tick := min(interval, recoveryInterval)
		t := time.NewTicker(tick)
		defer t.Stop()
		last := h.last.Load()
		for {
			select {
			case <-h.done:
				return
			case now := <-t.C:
				recovering := (!last.Reachable || b.guard.BreakerState() != guard.StateClosed) && !last.AuthFailing
				if recovering || now.Sub(last.CheckedAt) >= interval-tick/2 {
					cur := h.check(context.Background(), b, timeout)
					last = &cur
				}
				if last.Reachable && h.onTick != nil {
					h.onTick()
				}
			}
		}
	}()
}

func (h *healthChecker) stop() {
	h.once.Do(func() {
		if h.done != nil {
			close(h.done)
		}
	})
	h.wg.Wait()
}

// check PINGs the store past the breaker (a probe must reach it even
// while the breaker is open), bounded by timeout.
func (h *healthChecker) check(ctx context.Context, b *backend, timeout time.Duration) Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := Health{Backend: b.kind, Breaker: "none", CheckedAt: time.Now()}
	if b.guard != nil {
		cur.Breaker = b.guard.BreakerState().String()
		cur.OpenParts, cur.Parts = b.guard.OpenPartitions()
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	err := b.probe(pctx)
	cancel()
	cur.PingLatency = time.Since(cur.CheckedAt)
	cur.Reachable = err == nil
	prev := h.last.Load()
	switch {
	case err == nil:
		if b.guard != nil {
			b.guard.ProbeSucceeded()
		}
		h.watchServer(ctx, b, timeout)
	case b.guard != nil && isTimeout(err) && b.guard.Starved():
		// This process was starved of CPU: the PING's reply may have sat
		// unread. The check says nothing about the store; it keeps the
		// previous verdict.
		cur.LastError = err.Error() + " (inconclusive: this process is starved of CPU)"
		cur.Reachable = prev == nil || prev.Reachable
		if prev != nil {
			cur.ConsecutiveFailures = prev.ConsecutiveFailures
		}
	default:
		if b.guard != nil {
			b.guard.ProbeFailed(err)
		}
		cur.LastError = err.Error()
		cur.AuthFailing = errors.Is(err, ErrAuth)
		cur.ConsecutiveFailures = 1
		if prev != nil {
			cur.ConsecutiveFailures += prev.ConsecutiveFailures
		}
	}
	cur.Ready = cur.ready()
	cur.Since = cur.CheckedAt
	if prev != nil && prev.Reachable == cur.Reachable {
		cur.Since = prev.Since
	} else if prev != nil {
		if cur.Reachable {
			b.obs.log.Info("tradecache: store reachable again", "backend", b.kind, "down_for", cur.CheckedAt.Sub(prev.Since))
		} else {
			b.obs.log.Warn("tradecache: store unreachable", "backend", b.kind, "error", err)
		}
	}
	h.last.Store(&cur)
	return cur
}

// FailedChecksBeforeNotReady is how many health checks in a row must fail
// before Health.Ready (and /readyz) says not ready: one PING lost to a
// busy moment must not take an instance out of service. An open breaker
// makes it not ready at once.
const FailedChecksBeforeNotReady = 3

// ready is Ready's rule: the breaker closed (or none), and the store not
// failing FailedChecksBeforeNotReady checks in a row.
func (h Health) ready() bool {
	return (h.Breaker == "closed" || h.Breaker == "none") && h.ConsecutiveFailures < FailedChecksBeforeNotReady
}

// isTimeout reports a deadline, as opposed to a refused or reset
// connection.
func isTimeout(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
}

// watchServer reads the servers' run_id and reports a change to
// onServerChange. A store without INFO has nothing to watch.
func (h *healthChecker) watchServer(ctx context.Context, b *backend, timeout time.Duration) {
	if h.onServerChange == nil {
		return
	}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	text, ok := b.info(ictx, "server")
	cancel()
	if !ok {
		return
	}
	id := serverIdentity(text)
	if id == "" {
		return
	}
	if prev := h.server.Swap(&id); prev != nil && *prev != id {
		h.onServerChange(*prev, id)
	}
}

// serverIdentity is the run_id lines of INFO's text, in order: one server's,
// or every master's of a cluster.
func serverIdentity(info string) string {
	var ids []string
	for _, line := range strings.Split(info, "\n") {
		if id, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			ids = append(ids, id)
		}
	}
	return strings.Join(ids, ",")
}
