package tradecache_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/testkit"
)

// Close cancels the Cache's background work and waits for it: single-key
// loads (flights), GetManyOrLoad's detached load, early refreshes. Checked
// at once after Close returns, not after the leak check's 5 s: no goroutine
// of the Cache runs, every loader saw its context end, and nothing was
// written (no write error in Stats).
func TestCloseStopsBackgroundWork(t *testing.T) {
	off := false
	c, err := tradecache.New(context.Background(), tradecache.Config{LogSlowOps: &off, PublishStats: &off})
	if err != nil {
		t.Fatal(err)
	}
	ns := c.Namespace("closing")
	ctx := context.Background()
	var started, cancelled atomic.Int64
	block := func(lctx context.Context) {
		started.Add(1)
		<-lctx.Done()
		cancelled.Add(1)
	}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, _, _ = tradecache.GetOrLoad(ctx, ns, fmt.Sprintf("one-%d", i), func(lctx context.Context) (int, error) {
				block(lctx)
				return 1, nil // returned after Close began: must not be written
			}, tradecache.WithLoadTimeout(time.Hour))
		}()
		go func() {
			defer wg.Done()
			_, _, _ = tradecache.GetManyOrLoad(ctx, ns, []string{fmt.Sprintf("many-%d", i)}, func(lctx context.Context, missing []string) (map[string]int, error) {
				block(lctx)
				return map[string]int{missing[0]: 1}, nil
			}, tradecache.WithLoadTimeout(time.Hour), tradecache.WithSoftTimeout(10*time.Millisecond))
		}()
	}
	testkit.Eventually(t, 10*time.Second, "20 loads start", func() bool { return started.Load() >= 20 })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := cancelled.Load(); n != 20 {
		t.Errorf("Close returned with %d of 20 loads still running", 20-n)
	}
	// A load's goroutine signals its end (the group's WaitGroup) as its
	// last act, and may still be on its closing brace when Close returns:
	// give it a moment to be gone. One that still works stays.
	var g string
	if !testkit.Poll(2*time.Second, func() bool { g = cacheGoroutines(); return g == "" }) {
		t.Errorf("goroutines of the Cache still run after Close:\n%s", g)
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("the callers were still waiting 10 s after Close") // the loads were never cancelled
	}
	if st := c.Stats(ctx); st.Errors != 0 {
		t.Errorf("a write was attempted after Close: Stats.Errors = %d", st.Errors)
	}
}

// cacheGoroutines returns the stacks of goroutines running the Cache's
// code (not this test's).
func cacheGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		s := string(g)
		if strings.Contains(s, "internal/flight.") || strings.Contains(s, "tradecache.GetManyOrLoad[") && strings.Contains(s, ".func") && !strings.Contains(s, "close_test.go") {
			out = append(out, s)
		}
	}
	return strings.Join(out, "\n\n")
}
