package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/redistest"
)

// An operations command waits the operator bounds for Redis unless the
// environment says otherwise; health keeps the service's. (stats --json
// once failed with "store timeout" beside three CPU burners, on the 100 ms
// meant for a service's hot path.)
func TestOperationsCommandsWaitLongerThanAService(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", "redis://"+srv.Addr)
	t.Setenv("CACHE_OP_TIMEOUT", "")
	t.Setenv("CACHE_BATCH_TIMEOUT", "")
	for _, c := range []struct {
		service   bool
		env       string
		op, batch time.Duration
	}{
		{false, "", operatorOpTimeout, operatorBatchTimeout},
		{true, "", tradecache.DefaultOpTimeout, tradecache.DefaultBatchTimeout},
		{false, "250ms", 250 * time.Millisecond, operatorBatchTimeout},
	} {
		t.Setenv("CACHE_OP_TIMEOUT", c.env)
		cache, err := openCache(context.Background(), false, c.service, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		cfg := cache.Config()
		cache.Close()
		if cfg.OpTimeout != c.op || cfg.BatchTimeout != c.batch {
			t.Errorf("service bounds %v, CACHE_OP_TIMEOUT %q: op %v, batch %v; want %v, %v", c.service, c.env, cfg.OpTimeout, cfg.BatchTimeout, c.op, c.batch)
		}
	}
}
