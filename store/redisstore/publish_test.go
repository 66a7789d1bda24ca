package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/store"
)

// Publish reads the previous entry's ID from the version key, where the
// last Publish left it, not from the stream (one XREVRANGE a publish
// fewer). An entry appended to the stream by raw XADD is then never a
// genuine entry's p, a lost stream still chains from the last published
// entry, and a version key without an ID (plain SetIfNewer) falls back to
// the stream's last entry.
func TestPublishChainsFromTheVersionKey(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	s := newStoreWith(t, rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	defer s.Close()
	raw := newRaw(t, srv.Addr)
	pub := func(v uint64) string {
		t.Helper()
		ok, id, err := s.Publish(ctx, store.Publication{Key: "q", VerKey: "q ver", Stream: "q stream", Value: []byte("x"), Version: v, TTL: time.Minute,
			Retention: store.Retention{MaxAge: time.Hour}})
		if err != nil || !ok {
			t.Fatalf("Publish(%d) = %v, %v", v, ok, err)
		}
		return id
	}
	prevOf := func(id string) string {
		t.Helper()
		es, err := raw.Do(ctx, raw.B().Xrange().Key("q stream").Start(id).End(id).Build()).AsXRange()
		if err != nil || len(es) != 1 {
			t.Fatalf("XRANGE %s: %v %v", id, es, err)
		}
		return es[0].FieldValues["p"]
	}
	calls := func(cmd string) (n int64) {
		info, _ := raw.Do(ctx, raw.B().Info().Section("commandstats").Build()).ToString()
		fmt.Sscanf(redistest.InfoField(info, "cmdstat_"+cmd), "calls=%d", &n)
		return n
	}
	first := pub(1)
	xrev := calls("xrevrange")
	second := pub(2)
	if got := prevOf(second); got != first {
		t.Fatalf("entry 2's p = %q, want entry 1's ID %q", got, first)
	}
	if n := calls("xrevrange") - xrev; n != 0 {
		t.Fatalf("a publish after another read the stream with XREVRANGE %d times; the version key holds the ID", n)
	}
	// A planted entry is not a genuine entry's predecessor.
	planted, err := raw.Do(ctx, raw.B().Xadd().Key("q stream").Id("*").FieldValue().FieldValue("v", "00000000000000000099").FieldValue("d", "x").FieldValue("p", second).Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	third := pub(3)
	if got := prevOf(third); got != second {
		t.Fatalf("after a planted entry %s, entry 3's p = %q, want entry 2's ID %q", planted, got, second)
	}
	// The stream lost: the next entry still names the last one published.
	if err := raw.Do(ctx, raw.B().Del().Key("q stream").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	fourth := pub(4)
	if got := prevOf(fourth); got != third {
		t.Fatalf("after the stream was lost, entry 4's p = %q, want entry 3's ID %q", got, third)
	}
	// A version key without an ID: the stream's last entry.
	if err := raw.Do(ctx, raw.B().Set().Key("q ver").Value("00000000000000000004").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	fifth := pub(5)
	if got := prevOf(fifth); got != fourth {
		t.Fatalf("with a version key holding no ID, entry 5's p = %q, want the stream's last entry %q", got, fourth)
	}
}

func newRaw(t *testing.T, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
