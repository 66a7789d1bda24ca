// Package cachetest opens the Caches that tests use, one way for every
// package: on the in-memory store or on a Redis topology, closed when the
// test ends, with the bounds of a test that checks what is returned rather
// than how fast.
package cachetest

import (
	"context"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/redistest"
)

// Open opens a Cache on cfg with opts, and closes it when the test ends.
func Open(t testing.TB, cfg tradecache.Config, opts ...tradecache.Option) *tradecache.Cache {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := tradecache.New(ctx, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Quiet is cfg for a test about what is returned, not how fast: generous
// bounds per call (2 s) and per batch (5 s), so that a busy machine's slow
// call does not read as an error, and no slow-operation log or published
// statistics.
func Quiet(cfg tradecache.Config) tradecache.Config {
	off := false
	cfg.LogSlowOps, cfg.PublishStats = &off, &off
	cfg.OpTimeout, cfg.BatchTimeout = 2*time.Second, 5*time.Second
	return cfg
}

// The topologies Each runs on.
const (
	Memory     = "memory"
	Standalone = "standalone"
	Sentinel   = "sentinel"
	Cluster    = "cluster"
)

// Redis points cfg at topology name: a server of the test's own for
// Standalone, shared's Sentinel group or cluster (flushed) for the others,
// and none, the in-memory store, for Memory.
func Redis(t testing.TB, shared *redistest.Shared, name string, cfg tradecache.Config) tradecache.Config {
	t.Helper()
	switch name {
	case Memory:
	case Standalone:
		cfg.Redis.URL = "redis://" + redistest.Start(t).Addr
	case Sentinel:
		g := shared.Sentinel(t)
		g.FlushAll(t)
		cfg.Redis.SentinelAddrs, cfg.Redis.SentinelMaster = g.Addrs(), redistest.MasterName
	case Cluster:
		cl := shared.Cluster(t)
		cl.FlushAll(t)
		cfg.Redis.ClusterAddrs = cl.Addrs()
	default:
		t.Fatalf("cachetest: no topology %q", name)
	}
	return cfg
}

// Each runs fn in a subtest per named topology, on a Quiet Cache of cfg.
func Each(t *testing.T, shared *redistest.Shared, names []string, cfg tradecache.Config, fn func(t *testing.T, c *tradecache.Cache)) {
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			fn(t, Open(t, Quiet(Redis(t, shared, name, cfg))))
		})
	}
}
