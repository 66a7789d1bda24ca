package tradecache_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/redistest"
)

// After kill -9 and a restart, calls succeed soon after the server first
// answers PING: a health probe that reaches it makes the breaker half-open
// at once, rather than calls waiting out the breaker's open timeout (here
// 5 s, so that waiting for it cannot pass). Ten restarts; the time from
// the first PONG to the first successful call is logged as min, median
// and max. The bound, 1 s, is far below the open timeout and far above
// the 25 ms recovery probing, so a busy machine does not fail it.
func TestRecoveryFollowsTheFirstPong(t *testing.T) {
	srv := redistest.Start(t)
	cfg := faultConfig(srv.Addr)
	cfg.BreakerOpenTimeout = 5 * time.Second
	cfg.HealthInterval = time.Second
	c := cachetest.Open(t, cfg)
	ctx := context.Background()
	recovers(t, c, time.Second)
	var took []time.Duration
	for round := range 10 {
		srv.Kill()
		for c.Stats(ctx).Breaker != "open" {
			_, _ = c.Get(ctx, "k", new(string))
			time.Sleep(time.Millisecond)
		}
		srv.Restart(t) // returns once the server answers PING
		pong := time.Now()
		for {
			var v string
			if _, err := c.Get(ctx, "k", &v); err == nil {
				break
			}
			if time.Since(pong) > 3*time.Second {
				t.Fatalf("round %d: no successful call 3 s after the first PONG (breaker %s)", round, c.Stats(ctx).Breaker)
			}
			time.Sleep(time.Millisecond)
		}
		took = append(took, time.Since(pong))
	}
	slices.Sort(took)
	t.Logf("first successful call after the first PONG, 10 restarts: min %v, median %v, max %v", took[0], took[5], took[9])
	if took[9] > time.Second {
		t.Fatalf("slowest recovery %v after the first PONG", took[9])
	}
}
