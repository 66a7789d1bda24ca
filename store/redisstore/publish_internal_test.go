package redisstore

import (
	"context"
	"math"
	"strconv"
	"strings"
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

// A version is 20 digits, so that the scripts' string comparison orders
// versions as numbers, up to the largest uint64.
func TestVersionArgOrdersAsNumbers(t *testing.T) {
	vs := []uint64{0, 1, 9, 10, 99, 100, 1 << 53, 1<<53 + 1, math.MaxUint64 - 1, math.MaxUint64}
	for i, v := range vs {
		a := versionArg(v)
		if len(a) != 20 || strings.TrimLeft(a, "0") != strings.TrimLeft(strconv.FormatUint(v, 10), "0") {
			t.Fatalf("versionArg(%d) = %q", v, a)
		}
		if i > 0 && versionArg(vs[i-1]) >= a {
			t.Fatalf("versionArg(%d) = %q does not sort above versionArg(%d) = %q", v, a, vs[i-1], versionArg(vs[i-1]))
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
