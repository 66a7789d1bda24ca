package tradecache_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/cachetest"
)

// A service that derives namespace names from user IDs must not leak:
// 10,000 names, each used once, with metrics on. Measured as heap growth
// per name after a GC, Cache and namespaces still reachable.
func TestNamespaceNamesDoNotLeak(t *testing.T) {
	on, off := true, false
	c := cachetest.Open(t, tradecache.Config{EnableMetrics: &on, LogSlowOps: &off, PublishStats: &off})
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const names = 10000
	for i := range names {
		if err := c.Namespace(fmt.Sprintf("user-%d", i)).Set(ctx, "k", i, 0); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	per := grew / names
	t.Logf("%d namespace names: heap grew %.1f MiB, %d bytes per name", names, float64(grew)/(1<<20), per)
	runtime.KeepAlive(c)
	// A name past the cap works as any other.
	var v int
	if found, err := c.Namespace("user-9999").Get(ctx, "k", &v); err != nil || !found || v != 9999 {
		t.Fatalf("a namespace past MaxNamespaces: %d, %v, %v", v, found, err)
	}
	if per > 4<<10 {
		t.Fatalf("%d bytes of heap per namespace name (%.1f MiB for %d)", per, float64(grew)/(1<<20), names)
	}
}
