package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/store"
)

func TestSpanDigits(t *testing.T) {
	for _, c := range []struct {
		life int64
		want int
	}{{0, 0}, {1, 0}, {19, 0}, {20, 1}, {60_000, 4}, {3_600_000, 6}, {2_000_000, 6}, {1_999_999, 5}} {
		if got := spanDigits(c.life); got != c.want {
			t.Errorf("spanDigits(%d) = %d, want %d", c.life, got, c.want)
		}
	}
}

// A lone publisher sends each publication itself, as a call of one: no
// sender goroutine is started and nothing is handed over.
func TestALonePublisherSendsItsOwnCall(t *testing.T) {
	srv := redistest.Start(t)
	s, err := New(context.Background(), rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for v := uint64(1); v <= 20; v++ {
		ok, _, err := s.Publish(context.Background(), store.Publication{Key: "q", VerKey: "q ver", Stream: "q stream", Value: []byte("x"), Version: v, TTL: time.Minute})
		if err != nil || !ok {
			t.Fatalf("Publish(%d) = %v, %v", v, ok, err)
		}
	}
	if s.pubq.calls != nil {
		t.Fatal("20 publishes one after another started the queue's senders")
	}
}
