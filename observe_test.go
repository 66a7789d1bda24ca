package tradecache_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/cachetest"
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
