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
	conformance(t, rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true}, "standalone")
}

func TestConformanceSentinel(t *testing.T) {
	g := redistest.StartSentinel(t)
	conformance(t, rueidis.ClientOption{InitAddress: g.Addrs(), DisableCache: true,
		Sentinel: rueidis.SentinelOption{MasterSet: redistest.MasterName}}, "sentinel")
}

func TestConformanceCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	conformance(t, rueidis.ClientOption{InitAddress: c.Addrs()[:1], DisableCache: true}, "cluster")
}

// conformance runs the suite on stores made with opt, each of which must
// have found the topology mode.
func conformance(t *testing.T, opt rueidis.ClientOption, mode string) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := newStoreWith(t, opt)
		if s.Mode() != mode {
			t.Fatalf("mode %s, want %s", s.Mode(), mode)
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
