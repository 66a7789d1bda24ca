package tradecache

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Health checks the store now (a PING bounded by the operation timeout,
// past the breaker) and returns its state.
func (c *Cache) Health(ctx context.Context) Health {
	if c.closed.Load() {
		return Health{Backend: c.kind, Breaker: "closed", LastError: errClosed.Error(), CheckedAt: time.Now()}
	}
	return c.health.check(ctx, c.backend, c.cfg.OpTimeout)
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
			h = &Health{Backend: c.kind}
		}
		write(w, http.StatusOK, *h)
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		h := c.health.last.Load()
		if h == nil || c.closed.Load() {
			write(w, http.StatusServiceUnavailable, Health{Backend: c.kind})
			return
		}
		cur := *h
		if c.guard != nil {
			cur.Breaker = c.guard.BreakerState().String()
			cur.OpenParts, cur.Parts = c.guard.OpenPartitions()
			cur.Ready = cur.ready()
		}
		code := http.StatusOK
		if !cur.Ready {
			code = http.StatusServiceUnavailable
		}
		write(w, code, cur)
	})
	return mux
}
