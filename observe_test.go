package tradecache_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/mono"
	"github.com/tradecache/tradecache/internal/testkit"
	"github.com/tradecache/tradecache/store/memstore"
)

// failingSets is an in-memory store whose writes fail while fail is set.
type failingSets struct {
	*memstore.Store
	fail bool
}

func (s *failingSets) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if s.fail {
		return errors.New("the disk is on fire")
	}
	return s.Store.Set(ctx, key, value, ttl)
}

// A write the store failed is logged as given up; one whose caller gave up
// (its context canceled, as when a worker stops) is not: it says nothing
// of the store.
func TestAFailedWriteIsLoggedButACanceledOneIsNot(t *testing.T) {
	var logs testkit.SyncBuffer
	ms, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := &failingSets{Store: ms}
	c := cachetest.Open(t, tradecache.Config{}, tradecache.WithStore(st), tradecache.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ns := c.Namespace("bars")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ns.Set(canceled, "k", 1, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("Set with a canceled context = %v", err)
	}
	if strings.Contains(logs.String(), "write failed") {
		t.Fatalf("a write the caller canceled was logged as failed:\n%s", logs.String())
	}
	st.fail = true
	if err := ns.Set(context.Background(), "k", 1, time.Minute); err == nil {
		t.Fatal("the failing store's Set succeeded")
	}
	if !strings.Contains(logs.String(), "write failed") {
		t.Fatalf("a write the store failed was not logged:\n%s", logs.String())
	}
}

// A hit, one key or a batch, reads the monotonic clock twice when it is
// timed (its start, which the guard bounds the call from, and its end) and
// once when nothing needs its latency (the guard's, for the bound): the
// guard does not read the clock again for a call the I/O path has timed.
func TestAHitReadsTheClockOnceForItsBoundAndOnceMoreForItsTime(t *testing.T) {
	for _, timed := range []bool{true, false} {
		mem, err := memstore.New(memstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mem.Close() })
		off := false
		c, err := tradecache.New(context.Background(), tradecache.Config{LogSlowOps: &timed, EnableMetrics: &off, PublishStats: &off, HealthInterval: time.Hour},
			tradecache.WithStore(&failingSets{Store: mem}), tradecache.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ctx := context.Background()
		if err := c.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
		want := int64(1)
		if timed {
			want = 2
		}
		var reads atomic.Int64
		stop := mono.CountReads(&reads)
		var v []byte
		found, err := c.Get(ctx, "k", &v)
		stop()
		if err != nil || !found {
			t.Fatalf("Get: %v %v", found, err)
		}
		if got := reads.Load(); got != want {
			t.Errorf("timed %v: a hit read the clock %d times, want %d", timed, got, want)
		}
		// A batch too: one call, whatever its keys.
		reads.Store(0)
		stop = mono.CountReads(&reads)
		m := map[string][]byte{}
		n, err := c.GetMany(ctx, []string{"k", "k"}, &m)
		stop()
		if err != nil || n != 2 {
			t.Fatalf("GetMany: %d %v", n, err)
		}
		if got := reads.Load(); got != want {
			t.Errorf("timed %v: a batch read the clock %d times, want %d", timed, got, want)
		}
	}
}
