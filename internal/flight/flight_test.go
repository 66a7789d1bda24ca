package flight_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tradecache/tradecache/internal/flight"
	"github.com/tradecache/tradecache/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// Callers of one key share one load; a caller that gives up returns at
// once without failing the others.
func TestDoSharesOneLoad(t *testing.T) {
	var g flight.Group[int]
	var calls atomic.Int32
	release := make(chan struct{})
	fn := func(context.Context) (int, error) {
		calls.Add(1)
		<-release
		return 42, nil
	}
	var wg sync.WaitGroup
	results := make([]int, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = g.Do(context.Background(), "k", time.Minute, fn)
		}()
	}
	for !g.InFlight("k") {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Do(ctx, "k", time.Minute, fn); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled caller got %v", err)
	}
	close(release)
	wg.Wait()
	for _, r := range results {
		if r != 42 {
			t.Fatalf("results %v", results)
		}
	}
	// Goroutines that arrive after the first call has its flight share it;
	// the count may exceed 1 only if a caller arrived after the load ended.
	if n := calls.Load(); n < 1 || n > 10 {
		t.Fatalf("%d loads", n)
	}
	if g.InFlight("k") {
		t.Fatal("a finished load is still in flight")
	}
}

// A load runs detached from its first caller, bounded by its own timeout.
func TestLoadIsDetachedAndBounded(t *testing.T) {
	var g flight.Group[int]
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	g.Go(ctx, "k", 50*time.Millisecond, func(lctx context.Context) (int, error) {
		cancel() // the caller going away does not end the load...
		if lctx.Err() != nil {
			got <- errors.New("the load saw its caller's cancellation")
			return 0, nil
		}
		<-lctx.Done() // ...its own timeout does
		got <- lctx.Err()
		return 0, nil
	})
	if err := <-got; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}

// A panic reaches every waiter as a *Panic with the stack.
func TestPanicReachesEveryWaiter(t *testing.T) {
	var g flight.Group[int]
	release := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = g.Do(context.Background(), "k", time.Minute, func(context.Context) (int, error) {
				<-release
				panic("boom")
			})
		}()
	}
	for !g.InFlight("k") {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	for _, err := range errs {
		var pe *flight.Panic
		if !errors.As(err, &pe) || pe.Value != "boom" || len(pe.Stack) == 0 {
			t.Fatalf("waiter got %v", err)
		}
	}
	var err error
	func() {
		defer flight.Recover(&err)
		panic("again")
	}()
	if pe := (*flight.Panic)(nil); !errors.As(err, &pe) || pe.Value != "again" {
		t.Fatalf("Recover gave %v", err)
	}
}

// Known is a bounded cache: new keys find room past the limit (the least
// recently remembered goes), bytes are bounded, entries expire at their own
// deadline, and an older value never replaces a newer one.
func TestKnownIsBoundedAndNeverGoesBack(t *testing.T) {
	k := &flight.Known[string]{Limit: 16 * 4, MaxBytes: 16 * 1000}
	t0 := time.Unix(1000, 0)
	size := func(n int64) func() int64 { return func() int64 { return n } }
	for i := range 1000 {
		k.Remember(fmt.Sprint("key", i), "v", t0, t0.Add(time.Minute), size(10))
	}
	if n, _ := k.Len(); n > 64 {
		t.Fatalf("holds %d keys, limit 64", n)
	}
	if _, ok := k.Get("key999", t0); !ok {
		t.Fatal("the newest key found no room: past the limit new keys must still be remembered")
	}
	// Bytes: a shard holds at most 1000 bytes.
	k2 := &flight.Known[string]{Limit: 1 << 20, MaxBytes: 16 * 1000}
	for i := range 1000 {
		k2.Remember(fmt.Sprint("big", i), "v", t0, t0.Add(time.Minute), size(400))
	}
	if _, b := k2.Len(); b > 16*1000 {
		t.Fatalf("holds %d bytes, limit %d", b, 16*1000)
	}
	k2.Remember("huge", "v", t0, t0.Add(time.Minute), size(1<<20))
	if _, ok := k2.Get("huge", t0); ok {
		t.Fatal("a value larger than a shard's share was kept")
	}
	// Expiry at the entry's own deadline.
	k.Remember("exp", "v1", t0, t0.Add(time.Second), size(1))
	if _, ok := k.Get("exp", t0.Add(2*time.Second)); ok {
		t.Fatal("served past its deadline")
	}
	var none flight.Known[int]
	none.Remember("x", 1, t0, t0.Add(time.Minute), size(1))
	if _, ok := none.Get("x", t0); ok {
		t.Fatal("the zero Known remembered a value")
	}
	// Never back: an older asOf does not replace a newer one.
	k.Remember("nb", "new", t0.Add(time.Second), t0.Add(time.Minute), size(1))
	k.Remember("nb", "old", t0, t0.Add(time.Minute), size(1))
	if v, _ := k.Get("nb", t0); v != "new" {
		t.Fatalf("an older value replaced a newer one: %q", v)
	}
}
