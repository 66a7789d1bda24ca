package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/store"
	"github.com/tradecache/tradecache/store/redisstore"
	"github.com/tradecache/tradecache/store/storetest"
)

func newStore(t *testing.T, addr string) *redisstore.Store {
	t.Helper()
	return newStoreWith(t, rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
}

func newStoreWith(t *testing.T, opt rueidis.ClientOption) *redisstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := redisstore.New(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The conformance suite runs on each topology: one server, a Sentinel
// group, and a six-node Redis Cluster.
func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s := newStore(t, srv.Addr)
		if s.Mode() != "standalone" {
			t.Fatalf("mode %s, want standalone", s.Mode())
		}
		return s
	})
}

func TestConformanceSentinel(t *testing.T) {
	g := redistest.StartSentinel(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s := newStoreWith(t, rueidis.ClientOption{InitAddress: g.Addrs(), DisableCache: true,
			Sentinel: rueidis.SentinelOption{MasterSet: redistest.MasterName}})
		if s.Mode() != "sentinel" {
			t.Fatalf("mode %s, want sentinel", s.Mode())
		}
		return s
	})
}

func TestConformanceCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s := newStoreWith(t, rueidis.ClientOption{InitAddress: c.Addrs()[:1], DisableCache: true})
		if s.Mode() != "cluster" {
			t.Fatalf("mode %s, want cluster", s.Mode())
		}
		return s
	})
}

func TestNewFailsFastWhenNothingListens(t *testing.T) {
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err = redisstore.New(ctx, rueidis.ClientOption{InitAddress: []string{"127.0.0.1:" + strconv.Itoa(port)}})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("New(no server) = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("New took %v to fail", d)
	}
}
