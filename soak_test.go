//go:build soak

package tradecache_test

// The soak run: make soak (SOAK=5m). 50 goroutines run mixed traffic while
// faults are injected on a schedule; the run prints what an operator would
// ask: operations, errors surfaced to GetOrLoad callers (must be 0), wrong
// values (must be 0), breaker transitions, time to recover after each
// fault, the p99 of calls failed fast by the open breaker, and goroutines
// at start and end.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/hist"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/store/guard"
)

var soakFor = flag.Duration("soak-duration", time.Minute, "how long the soak runs")

func TestSoak(t *testing.T) {
	srv := redistest.Start(t, redistest.Option{"maxmemory-policy", "noeviction"})
	admin := rawClient(t, srv.Addr)
	c := openFaultCache(t, srv.Addr)
	ctx := context.Background()
	type fault struct {
		name  string
		start func()
		stop  func()
	}
	faults := []fault{
		{"kill -9, restart after 2s", srv.Kill, func() { srv.Restart(t) }},
		{"SIGSTOP 2s", func() { _ = syscall.Kill(srv.Pid(), syscall.SIGSTOP) }, func() { _ = syscall.Kill(srv.Pid(), syscall.SIGCONT) }},
		{"CLIENT KILL", func() { admin.Do(ctx, admin.B().ClientKill().TypeNormal().Build()) }, func() {}},
		{"DEBUG SLEEP 2", func() {
			go admin.Do(context.Background(), admin.B().Arbitrary("DEBUG", "SLEEP", "2").Build())
		}, func() { time.Sleep(100 * time.Millisecond) }},
		{"OOM 2s", func() {
			admin.Do(ctx, admin.B().ConfigSet().ParameterValue().ParameterValue("maxmemory", "1").Build())
		}, func() {
			admin.Do(ctx, admin.B().ConfigSet().ParameterValue().ParameterValue("maxmemory", "0").Build())
		}},
	}
	soak(t, c, "one server", 5, func(i int) (string, time.Duration) {
		f := faults[i%len(faults)]
		f.start()
		time.Sleep(2 * time.Second)
		f.stop()
		return f.name, recovers(t, c, 30*time.Second)
	})
}

// TestSoakCluster is the soak on a six-node cluster (make soak
// SOAK_TOPOLOGY=cluster): masters killed and restarted (they rejoin as
// replicas), stopped, stalled, their clients cut, and slots resharded,
// while the traffic runs. Recovery means every shard answers again.
func TestSoakCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	c := topologyCache(t, tradecache.RedisConfig{ClusterAddrs: cl.Addrs()})
	r := rand.New(rand.NewPCG(1, 2))
	master := func() *redistest.Server { return cl.Master(t, uint16(r.IntN(16384))) }
	faults := []struct {
		name string
		run  func()
	}{
		{"kill -9 a master, restart after 2s", func() {
			m := master()
			m.Kill()
			time.Sleep(2 * time.Second)
			m.Restart(t)
		}},
		{"SIGSTOP a master 2s", func() {
			m := master()
			m.Stop()
			time.Sleep(2 * time.Second)
			m.Continue()
		}},
		{"CLIENT KILL on every node", func() {
			for _, n := range cl.Nodes {
				_, _ = redistest.Do(n.Addr, "CLIENT", "KILL", "TYPE", "normal")
			}
		}},
		{"DEBUG SLEEP 2 on a master", func() { _, _ = redistest.Do(master().Addr, "DEBUG", "SLEEP", "2") }},
		{"reshard 300 slots", func() {
			a, b := master(), master()
			for b == a {
				b = master()
			}
			cl.Reshard(t, a, b, 300)
		}},
	}
	soak(t, c, "six-node cluster", 12, func(i int) (string, time.Duration) {
		f := faults[i%len(faults)]
		f.run()
		took := recoversAll(t, c, 60*time.Second)
		cl.WaitHealthy(t, 60*time.Second) // replicas back in sync before the next fault
		return f.name, took
	})
}

// recoversAll is recovers for every shard: it probes keys spread over the
// slots until each of them can be written and read again.
func recoversAll(t *testing.T, c *tradecache.Cache, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for gen := 0; ; gen++ {
		ok := true
		for i := range 16 {
			if err := checked(t, c, fmt.Sprintf("probe%d", i), gen, time.Second); err != nil {
				ok = false
				break
			}
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("no recovery within %v: %+v", limit, c.Stats(context.Background()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// soak runs 50 goroutines of mixed traffic on c for -soak-duration while
// fault(i) injects the i-th fault every few seconds and reports its
// recovery, then prints the figures and fails on any error that reached a
// GetOrLoad caller, any wrong value, or more than slack goroutines left
// beyond those at the start (a client holds a few per server it talks to;
// the leak check after the tests, with every Cache closed, is exact).
func soak(t *testing.T, c *tradecache.Cache, name string, slack int, fault func(i int) (string, time.Duration)) {
	ctx := context.Background()
	goroutinesAtStart := runtime.NumGoroutine()
	var (
		ops, storeErrs, loaderCallerErrs, wrong atomic.Int64
		openLatency                             hist.Histogram
		allLatency                              hist.Histogram
	)
	deadline := time.Now().Add(*soakFor)
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			quotes := c.Namespace("market_data")
			for time.Now().Before(deadline) {
				key := fmt.Sprintf("s%d", r.IntN(200))
				start := time.Now()
				var err error
				switch n := r.IntN(10); {
				case n < 4:
					var v string
					v, _, err = tradecache.GetOrLoad(ctx, quotes, key, func(context.Context) (string, error) {
						return key + "@" + time.Now().Format(time.RFC3339Nano), nil
					}, tradecache.WithTTL(time.Second))
					if err != nil {
						loaderCallerErrs.Add(1)
					} else if !strings.HasPrefix(v, key+"@") {
						wrong.Add(1)
					}
				case n < 7:
					var v string
					var found bool
					found, err = c.Get(ctx, key, &v)
					if err == nil && found && !strings.HasPrefix(v, key+"=") {
						wrong.Add(1)
					}
				case n < 8:
					keys := []string{key, key + "x", key + "y"}
					m := map[string]string{}
					_, err = c.GetMany(ctx, keys, &m)
					for k, v := range m {
						if !strings.HasPrefix(v, k+"=") {
							wrong.Add(1)
						}
					}
				default:
					err = c.Set(ctx, key, valueFor(key, r.IntN(1000)), time.Minute)
				}
				d := time.Since(start)
				allLatency.Record(d)
				ops.Add(1)
				if err != nil && !errors.Is(err, tradecache.ErrNotFound) {
					storeErrs.Add(1)
					if errors.Is(err, guard.ErrOpen) {
						openLatency.Record(d)
					}
				}
			}
		}()
	}
	var report []string
	for i := 0; time.Until(deadline) > 8*time.Second; i++ {
		time.Sleep(3 * time.Second)
		what, took := fault(i)
		report = append(report, fmt.Sprintf("  %-36s recovered %v after the fault cleared", what, took.Round(time.Millisecond)))
	}
	wg.Wait()
	st := c.Stats(ctx)
	time.Sleep(200 * time.Millisecond)
	goroutinesAtEnd := runtime.NumGoroutine()

	fmt.Printf("\nsoak on %s: %v, 50 goroutines\n", name, *soakFor)
	fmt.Printf("operations:                       %d\n", ops.Load())
	fmt.Printf("errors surfaced to GetOrLoad:     %d\n", loaderCallerErrs.Load())
	fmt.Printf("wrong values:                     %d\n", wrong.Load())
	fmt.Printf("errors on plain calls:            %d (typed, fast); stale values served by GetOrLoad: %d\n", storeErrs.Load(), st.StaleServed)
	fmt.Printf("breaker: opened %d, half-open %d, closed %d, calls failed fast %d\n",
		st.BreakerTransitions.Opened, st.BreakerTransitions.HalfOpened, st.BreakerTransitions.Closed, st.BreakerTransitions.Rejected)
	fmt.Printf("p99 of calls failed fast (open):  %v over %d calls\n", openLatency.Quantile(0.99), openLatency.Count())
	fmt.Printf("p99 of all calls:                 %v\n", allLatency.Quantile(0.99))
	fmt.Printf("faults:\n%s\n", strings.Join(report, "\n"))
	fmt.Printf("goroutines: %d at start, %d at end\n", goroutinesAtStart, goroutinesAtEnd)
	if loaderCallerErrs.Load() != 0 || wrong.Load() != 0 {
		t.Fatalf("%d errors reached GetOrLoad callers, %d wrong values", loaderCallerErrs.Load(), wrong.Load())
	}
	if goroutinesAtEnd > goroutinesAtStart+slack {
		t.Fatalf("goroutines grew from %d to %d", goroutinesAtStart, goroutinesAtEnd)
	}
}
