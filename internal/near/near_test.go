package near_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tradecache/tradecache/internal/near"
)

// A read that raced an invalidation cannot put its value back.
func TestPutAfterAnInvalidationIsDropped(t *testing.T) {
	tier := near.New(100, 1<<20, 0)
	now := time.Now().UnixNano()
	far := now + int64(time.Hour)
	e := tier.Epoch("k")
	tier.Invalidate("k") // the server's push arrives while the read is in flight
	tier.Put("k", "old", 10, far, e)
	if _, ok := tier.Get("k", now); ok {
		tier.Flush()
		t.Fatal("a value read before its invalidation was kept")
	}
	tier.Put("k", "new", 10, far, tier.Epoch("k"))
	if v, ok := tier.Get("k", now); !ok || v != "new" {
		t.Fatalf("Get = %v, %v", v, ok)
	}
	if _, ok := tier.Get("k", far); ok {
		t.Fatal("a value was served past its expiry")
	}
}

// Own writes make a key pending for the window; a clear makes every key
// pending; Flush forgets everything.
func TestOwnWritesAndFlush(t *testing.T) {
	tier := near.New(100, 1<<20, 0)
	now := time.Now().UnixNano()
	tier.Put("k", 1, 10, now+int64(time.Hour), tier.Epoch("k"))
	tier.Wrote("k", now)
	if _, ok := tier.Get("k", now); ok {
		t.Fatal("an own write left the old value")
	}
	if tier.Settled("k", now+int64(near.OwnWriteWindow)-1) || !tier.Settled("k", now+int64(near.OwnWriteWindow)) || !tier.Settled("other", now) {
		t.Fatal("the own-write window is wrong")
	}
	tier.WroteAll(now)
	if tier.Settled("other", now+1) {
		t.Fatal("a clear did not make every key pending")
	}
	tier.Put("a", 1, 10, now+int64(time.Hour), tier.Epoch("a"))
	tier.Flush()
	if _, _, entries, bytes := tier.Stats(); entries != 0 || bytes != 0 {
		t.Fatalf("after Flush: %d entries, %d bytes", entries, bytes)
	}
}

// The bounds hold, counting evictions; MaxAge bounds the read TTL.
func TestBounds(t *testing.T) {
	tier := near.New(160, 1600, time.Second) // 10 entries and 100 bytes a shard
	exp := time.Now().Add(time.Hour).UnixNano()
	for i := range 10000 {
		k := fmt.Sprint(i)
		tier.Put(k, i, 30, exp, tier.Epoch(k))
	}
	_, _, entries, bytes := tier.Stats()
	if entries > 160 || bytes > 1600 || tier.Evictions() < 10000-160 {
		t.Fatalf("%d entries, %d bytes, %d evictions", entries, bytes, tier.Evictions())
	}
	if tier.ReadTTL(time.Minute) != time.Second || tier.ReadTTL(time.Millisecond) != time.Millisecond {
		t.Fatal("ReadTTL ignores maxAge")
	}
}

// A value larger than a shard's budget is not kept: keeping it would evict
// the whole shard and still overrun the bound.
func TestOversizedValueIsNotKept(t *testing.T) {
	tier := near.New(160, 1600, 0) // 100 bytes a shard
	exp := time.Now().Add(time.Hour).UnixNano()
	tier.Put("small", 1, 50, exp, tier.Epoch("small"))
	tier.Put("big", 2, 101, exp, tier.Epoch("big"))
	if _, ok := tier.Get("big", 0); ok {
		t.Fatal("a value over a shard's budget was kept")
	}
	if _, ok := tier.Get("small", 0); !ok || tier.Evictions() != 1 {
		t.Fatalf("the small value went, or the refusal was not counted (%d)", tier.Evictions())
	}
}
