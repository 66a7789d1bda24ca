package tradecache

import (
	"context"
	"encoding/json"
	"net/http"
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
	// Ready is Reachable with the breaker closed: the cache serves from the
	// store.
	Ready     bool      `json:"ready"`
	LastError string    `json:"last_error,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
	// Since is when Reachable last changed.
	Since time.Time `json:"since"`
}

// healthChecker pings the store in the background, so that a lost and
// regained connection shows in Health and in the logs without a caller's
// request having to find out.
type healthChecker struct {
	last atomic.Pointer[Health]
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func (c *Cache) startHealth() {
	c.health.done = make(chan struct{})
	c.checkHealth(context.Background())
	if c.guard == nil {
		return // the in-process store has nothing to watch
	}
	c.health.wg.Add(1)
	go func() {
		defer c.health.wg.Done()
		t := time.NewTicker(c.cfg.HealthInterval)
		defer t.Stop()
		for {
			select {
			case <-c.health.done:
				return
			case <-t.C:
				c.checkHealth(context.Background())
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

// checkHealth PINGs the store past the breaker (a probe must reach it even
// while the breaker is open), bounded by the operation timeout.
func (c *Cache) checkHealth(ctx context.Context) Health {
	h := Health{Backend: c.backend, Breaker: "none", CheckedAt: time.Now()}
	target := c.store
	timeout := c.cfg.OpTimeout
	if timeout == 0 {
		timeout = guard.DefaultOpTimeout
	}
	if c.guard != nil {
		target = c.guard.Unwrap()
		h.Breaker = c.guard.BreakerState().String()
		h.OpenParts, h.Parts = c.guard.OpenPartitions()
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	err := target.Ping(pctx)
	cancel()
	h.PingLatency = time.Since(h.CheckedAt)
	h.Reachable = err == nil
	if err != nil {
		h.LastError = err.Error()
	}
	h.Ready = h.Reachable && (h.Breaker == "closed" || h.Breaker == "none")
	h.Since = h.CheckedAt
	if prev := c.health.last.Load(); prev != nil && prev.Reachable == h.Reachable {
		h.Since = prev.Since
	} else if prev != nil {
		if h.Reachable {
			c.log.Info("tradecache: store reachable again", "backend", c.backend, "down_for", h.CheckedAt.Sub(prev.Since))
		} else {
			c.log.Warn("tradecache: store unreachable", "backend", c.backend, "error", err)
		}
	}
	c.health.last.Store(&h)
	return h
}

// Health checks the store now (a PING bounded by the operation timeout,
// past the breaker) and returns its state.
func (c *Cache) Health(ctx context.Context) Health {
	if c.closed.Load() {
		return Health{Backend: c.backend, Breaker: "closed", LastError: errClosed.Error(), CheckedAt: time.Now()}
	}
	return c.checkHealth(ctx)
}

// HealthHandler serves /healthz (liveness: 200 while the process runs)
// and /readyz (200 when the store is reachable and the breaker closed, 503
// otherwise), each with the Health as JSON. /readyz reports the background
// checker's latest result, so a probe storm never becomes a PING storm.
func (c *Cache) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	write := func(w http.ResponseWriter, code int, h Health) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(h)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		h := c.health.last.Load()
		if h == nil {
			h = &Health{Backend: c.backend}
		}
		write(w, http.StatusOK, *h)
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		h := c.health.last.Load()
		if h == nil || c.closed.Load() {
			write(w, http.StatusServiceUnavailable, Health{Backend: c.backend})
			return
		}
		cur := *h
		if c.guard != nil {
			cur.Breaker = c.guard.BreakerState().String()
			cur.OpenParts, cur.Parts = c.guard.OpenPartitions()
			cur.Ready = cur.Reachable && cur.Breaker == "closed"
		}
		code := http.StatusOK
		if !cur.Ready {
			code = http.StatusServiceUnavailable
		}
		write(w, code, cur)
	})
	return mux
}
