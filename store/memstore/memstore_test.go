package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tradecache/tradecache/store"
	"github.com/tradecache/tradecache/store/memstore"
	"github.com/tradecache/tradecache/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := memstore.New(memstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// clock is a manual clock: tests move time instead of sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestTTLWithManualClock(t *testing.T) {
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	s, err := memstore.New(memstore.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.Add(59 * time.Second)
	if ttl, ok, _ := s.TTL(ctx, "k"); !ok || ttl != time.Second {
		t.Fatalf("TTL after 59s = %v, %v; want 1s", ttl, ok)
	}
	clk.Add(time.Second)
	if _, ok, _ := s.Get(ctx, "k"); ok {
		t.Fatal("key still readable at its expiry instant")
	}
	if s.Len() != 0 {
		t.Fatalf("expired entry not removed on access: Len = %d", s.Len())
	}
}

func TestBoundedBytesEvictsLRU(t *testing.T) {
	s, err := memstore.New(memstore.Options{MaxBytes: 64 << 10, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	val := make([]byte, 1000)
	if err := s.Set(ctx, "hot", val, 0); err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if err := s.Set(ctx, fmt.Sprintf("k%d", i), val, 0); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Get(ctx, "hot"); !ok { // keep "hot" recently used
			t.Fatalf("recently used key evicted after %d writes", i)
		}
	}
	if b := s.Bytes(); b > 64<<10 {
		t.Fatalf("Bytes = %d, over the 64 KiB budget", b)
	}
	if s.Evictions() == 0 {
		t.Fatal("no evictions recorded")
	}
	if _, ok, _ := s.Get(ctx, "k0"); ok {
		t.Fatal("least recently used key k0 survived")
	}
	if _, ok, _ := s.Get(ctx, "k499"); !ok {
		t.Fatal("most recent key k499 was evicted")
	}
}

func TestValueTooLarge(t *testing.T) {
	s, err := memstore.New(memstore.Options{MaxBytes: 4096, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = s.Set(ctx, "big", make([]byte, 5000), 0)
	if !errors.Is(err, store.ErrValueTooLarge) {
		t.Fatalf("Set(too large) = %v, want ErrValueTooLarge", err)
	}
	err = s.SetMany(ctx, []store.Entry{{Key: "small", Value: []byte("x")}, {Key: "big", Value: make([]byte, 5000)}})
	if !errors.Is(err, store.ErrValueTooLarge) {
		t.Fatalf("SetMany(one too large) = %v, want ErrValueTooLarge", err)
	}
	if s.Len() != 0 {
		t.Fatalf("a rejected batch wrote %d entries", s.Len())
	}
}

func TestNewRejectsNegativeOptions(t *testing.T) {
	if _, err := memstore.New(memstore.Options{MaxBytes: -1}); err == nil {
		t.Fatal("New(MaxBytes: -1) succeeded")
	}
	if _, err := memstore.New(memstore.Options{Shards: -1}); err == nil {
		t.Fatal("New(Shards: -1) succeeded")
	}
}
