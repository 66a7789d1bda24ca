package tradecache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/fleet"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/clock"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/store/memstore"
)

func publishing(name string, cfg tradecache.Config) tradecache.Config {
	cfg.InstanceName = name
	cfg.EnableMetrics = ptr(true)
	cfg.PublishStats = ptr(true)
	return cfg
}

// Two instances publish to one Redis; a third process, which publishes
// nothing, merges them: counts summed, latency percentiles from the
// merged histograms, and the key one of them hammers at the top of the
// hot keys.
func TestFleetStatsMergesEveryInstance(t *testing.T) {
	srv := redistest.Start(t)
	base := tradecache.Config{Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr}}
	ctx := testCtx(t)
	a := mustNew(t, publishing("desk-a", base))
	b := mustNew(t, publishing("desk-b", base))
	base.PublishStats = ptr(false) // metrics are on by default, and so would publishing be
	reader := mustNew(t, base)

	quotesA, quotesB := a.Namespace("market_data"), b.Namespace("market_data")
	must(t, quotesA.Set(ctx, "AAPL", 1.5, 0))
	for i := range 2000 {
		var v float64
		if _, err := quotesA.Get(ctx, "AAPL", &v); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if _, err := quotesA.Get(ctx, fmt.Sprint("cold-", i), &v); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 300 {
		var v float64
		if _, err := quotesB.Get(ctx, fmt.Sprint("MSFT-", i%3), &v); err != nil {
			t.Fatal(err)
		}
	}
	must(t, tradecache.PublishStatsNow(a, ctx))
	must(t, tradecache.PublishStatsNow(b, ctx))

	f, err := reader.FleetStats(ctx)
	must(t, err)
	if len(f.Instances) != 2 || f.Instances[0].Instance != "desk-a" || f.Instances[1].Instance != "desk-b" {
		t.Fatalf("instances %+v, want desk-a and desk-b (and not the reader)", names(f))
	}
	if len(f.Refused) != 0 {
		t.Fatalf("refused %+v", f.Refused)
	}
	sa, sb := a.Stats(ctx), b.Stats(ctx)
	if f.Total.Hits != sa.Hits+sb.Hits || f.Total.Misses != sa.Misses+sb.Misses {
		t.Errorf("fleet hits/misses %d/%d, instances' sum %d/%d", f.Total.Hits, f.Total.Misses, sa.Hits+sb.Hits, sa.Misses+sb.Misses)
	}
	md := f.Total.Namespaces["market_data"]
	if md.Hits != 2000 || md.Misses != 200+300 {
		t.Errorf("market_data hits %d misses %d, want 2000 and 500", md.Hits, md.Misses)
	}
	get := f.Total.Ops["get"]
	if get.Count != sa.Ops["get"].Count+sb.Ops["get"].Count {
		t.Errorf("merged get count %d, want %d", get.Count, sa.Ops["get"].Count+sb.Ops["get"].Count)
	}
	// The merged p99 lies between the two instances' p99s, as a histogram
	// of the union must; and it is within 1% of what the instances saw.
	pa, pb := sa.Ops["get"].P99, sb.Ops["get"].P99
	if p := get.Quantile(0.99); p < min(pa, pb) || p > max(pa, pb) {
		t.Errorf("merged p99 %v outside the instances' %v and %v", p, pa, pb)
	}
	if f.Recent.Hits != f.Total.Hits { // the first publish's interval is the whole run
		t.Errorf("recent hits %d, total %d", f.Recent.Hits, f.Total.Hits)
	}
	if len(f.HotKeys) == 0 || f.HotKeys[0].Key != "AAPL" || f.HotKeys[0].Namespace != "market_data" {
		t.Fatalf("hot keys %+v, want market_data:AAPL first", f.HotKeys)
	}
	if r := f.HotKeys[0].Reads; r < 1000 || r > 3500 {
		t.Errorf("AAPL estimated at %d reads, read 2000 times (sampled 1 in 16)", r)
	}

	// The next publish's interval holds only what happened since.
	var v float64
	_, _ = quotesA.Get(ctx, "AAPL", &v)
	must(t, tradecache.PublishStatsNow(a, ctx))
	f, err = reader.FleetStats(ctx)
	must(t, err)
	if got := f.Instances[0].Recent.Hits; got != 1 {
		t.Errorf("desk-a's last interval: %d hits, want 1", got)
	}
}

func names(f fleet.Fleet) []string {
	var out []string
	for _, st := range f.Instances {
		out = append(out, st.Instance)
	}
	return out
}

// A stopped instance publishes once more on Close, and disappears after
// three intervals: moved on a clock, on the in-memory store.
func TestAStoppedInstanceDisappears(t *testing.T) {
	clk, ms := storeOnAClock(t)
	ctx := testCtx(t)
	cfg := publishing("short-lived", tradecache.Config{StatsInterval: 2 * time.Second})
	c, err := tradecache.New(ctx, cfg, tradecache.WithStore(ms), tradecache.WithClock(clk))
	must(t, err)
	must(t, c.Set(ctx, "k", 1, 0))
	must(t, c.Close()) // publishes once more
	reader, err := tradecache.New(ctx, tradecache.Config{PublishStats: ptr(false)}, tradecache.WithStore(ms), tradecache.WithClock(clk))
	must(t, err)
	defer reader.Close()
	f, err := reader.FleetStats(ctx)
	must(t, err)
	if len(f.Instances) != 1 || f.Total.Sets != 1 {
		t.Fatalf("after Close: instances %v, sets %d; want the closed instance's last figures", names(f), f.Total.Sets)
	}
	clk.Advance(6*time.Second + time.Millisecond)
	f, err = reader.FleetStats(ctx)
	must(t, err)
	if len(f.Instances) != 0 {
		t.Fatalf("three intervals after it stopped, instances %v remain", names(f))
	}
}

// Published figures are untrusted input: a snapshot that is not one,
// of another format, too large, inconsistent or under another instance's
// name is refused with its reason, and the honest ones are still merged.
func TestFleetStatsRefusesHostileSnapshots(t *testing.T) {
	srv, cfg := publishedOne(t, "honest")
	ctx := testCtx(t)

	good := func(name string) map[string]any {
		return map[string]any{"format": 1, "instance": name, "interval_ns": 5e9, "total": map[string]any{"hits": 5}, "recent": map[string]any{}}
	}
	hostile := map[string]any{
		"garbage":       "{not json",
		"future":        map[string]any{"format": 2, "instance": "future"},
		"impostor":      good("honest"),
		"bad-hist":      merge(good("bad-hist"), "total", map[string]any{"ops": map[string]any{"get": map[string]any{"b": [][2]uint64{{1 << 40, 1}}, "n": 1}}}),
		"bad-count":     merge(good("bad-count"), "total", map[string]any{"ops": map[string]any{"get": map[string]any{"b": [][2]uint64{{3, 1}}, "n": 1 << 62}}}),
		"bad-op":        merge(good("bad-op"), "total", map[string]any{"ops": map[string]any{"drop table": map[string]any{}}}),
		"bad-ns":        merge(good("bad-ns"), "total", map[string]any{"namespaces": map[string]any{"a:b": map[string]any{}}}),
		"many-hot":      merge(good("many-hot"), "hot_keys", make([]map[string]any, 11)),
		"huge":          strings.Repeat(" ", fleet.MaxStatsBytes) + `{"format":1,"instance":"huge"}`,
		"neg-rate":      merge(good("neg-rate"), "recent", map[string]any{"ops_per_sec": -1}),
		"no-interval":   merge(good("no-interval"), "interval_ns", 0),                  // would always read as silent
		"year-interval": merge(good("year-interval"), "interval_ns", 365*24*time.Hour), // would never
	}
	rc := rawClient(t, srv.Addr)
	for name, v := range hostile {
		var b []byte
		if s, ok := v.(string); ok {
			b = []byte(s)
		} else {
			b, _ = json.Marshal(v)
		}
		must(t, rc.Do(ctx, rc.B().Set().Key(tradecache.StatsKey("trading", name)).Value(string(b)).Ex(time.Minute).Build()).Error())
		must(t, rc.Do(ctx, rc.B().Zadd().Key(tradecache.StatsRoster("trading")).ScoreMember().ScoreMember(float64(time.Now().Add(time.Minute).UnixMilli()), name).Build()).Error())
	}
	reader := mustNew(t, tradecache.Config{Redis: cfg.Redis, PublishStats: ptr(false)})
	f, err := reader.FleetStats(ctx)
	must(t, err)
	if len(f.Instances) != 1 || f.Instances[0].Instance != "honest" || f.Total.Sets != 1 {
		t.Fatalf("merged %v (sets %d), want only the honest instance", names(f), f.Total.Sets)
	}
	refused := map[string]string{}
	for _, r := range f.Refused {
		refused[r.Instance] = r.Reason
	}
	for name := range hostile {
		if refused[name] == "" {
			t.Errorf("%s: not refused", name)
		}
	}
	t.Logf("refused: %v", refused)
}

func merge(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }

// Publishing follows metrics by default, and is off in the testing
// environment, where metrics are.
func TestPublishStatsDefaults(t *testing.T) {
	for _, c := range []struct {
		cfg  tradecache.Config
		want bool
	}{
		{tradecache.Config{}, true},
		{tradecache.Config{Environment: tradecache.Testing}, false},
		{tradecache.Config{EnableMetrics: ptr(false)}, false},
		{tradecache.Config{EnableMetrics: ptr(false), PublishStats: ptr(true)}, true},
	} {
		c2 := mustNew(t, c.cfg)
		if got := *c2.Config().PublishStats; got != c.want {
			t.Errorf("%+v: PublishStats %v, want %v", c.cfg, got, c.want)
		}
		if c2.Config().InstanceName == "" || c2.Config().StatsInterval != tradecache.DefaultStatsInterval {
			t.Errorf("instance %q interval %v", c2.Config().InstanceName, c2.Config().StatsInterval)
		}
	}
	for _, bad := range []tradecache.Config{{StatsInterval: time.Millisecond}, {InstanceName: "a b"}} {
		if _, err := tradecache.New(context.Background(), bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// mustNew is New with a test's context, closed when the test ends.
func mustNew(t *testing.T, cfg tradecache.Config, opts ...tradecache.Option) *tradecache.Cache {
	t.Helper()
	return cachetest.Open(t, cfg, opts...)
}

// The snapshot written on Close keeps the last full interval's window and
// hot keys: a window cut short by Close would show a busy instance idle.
// (It did: `stats` after a demo found no hot keys.)
func TestTheLastSnapshotKeepsTheLastFullInterval(t *testing.T) {
	ms, err := memstore.New(memstore.Options{})
	must(t, err)
	defer ms.Close()
	ctx := testCtx(t)
	c, err := tradecache.New(ctx, publishing("closing", tradecache.Config{}), tradecache.WithStore(ms))
	must(t, err)
	must(t, c.Set(ctx, "hot", 1, 0))
	var v int
	for range 1000 {
		_, err := c.Get(ctx, "hot", &v)
		must(t, err)
	}
	must(t, tradecache.PublishStatsNow(c, ctx)) // as the ticker would
	must(t, c.Close())
	reader := mustNew(t, tradecache.Config{PublishStats: ptr(false)}, tradecache.WithStore(ms))
	f, err := reader.FleetStats(ctx)
	must(t, err)
	if len(f.Instances) != 1 {
		t.Fatalf("after Close: instances %v", names(f))
	}
	last := f.Instances[0]
	if len(last.HotKeys) == 0 || last.HotKeys[0].Key != "hot" || last.Recent.Hits != 1000 {
		t.Fatalf("after Close: hot keys %+v, recent hits %d; want the last interval's", last.HotKeys, last.Recent.Hits)
	}
	// And it says it stopped, so that its last interval is not taken for
	// what is happening now (TestStoppedAndSilentInstancesAreNotCurrent).
	if !last.Stopped || f.Running != 0 || f.Recent.Hits != 0 || len(f.HotKeys) != 0 || f.Total.Hits != 1000 {
		t.Fatalf("after Close: stopped %v, running %d, fleet recent hits %d, hot keys %d, total hits %d; want stopped, 0, 0, 0, 1000",
			last.Stopped, f.Running, f.Recent.Hits, len(f.HotKeys), f.Total.Hits)
	}
}

// An instance that was closed, or that has not renewed its snapshot for
// over two intervals (killed: here, a Cache that is never closed and
// whose ticker is an hour away, on a clock the test moves), keeps its
// figures since start in the fleet's totals, and is left out of the last
// interval's rates and hot keys: `top` once summed a demo that had ended
// into the fleet's ops/s for the fifteen seconds its snapshot lived.
func TestStoppedAndSilentInstancesAreNotCurrent(t *testing.T) {
	clk, ms := storeOnAClock(t)
	ctx := testCtx(t)
	start := func(name string) *tradecache.Cache {
		c, err := tradecache.New(ctx, publishing(name, tradecache.Config{StatsInterval: time.Hour}), tradecache.WithStore(ms), tradecache.WithClock(clk))
		must(t, err)
		must(t, c.Set(ctx, "k-"+name, 1, 0))
		var v int
		for range 100 {
			_, err := c.Get(ctx, "k-"+name, &v)
			must(t, err)
		}
		must(t, tradecache.PublishStatsNow(c, ctx))
		return c
	}
	running, killed, closed := start("running"), start("killed"), start("closed")
	defer running.Close()
	defer killed.Close()
	must(t, closed.Close())
	reader, err := tradecache.New(ctx, tradecache.Config{PublishStats: ptr(false)}, tradecache.WithStore(ms), tradecache.WithClock(clk))
	must(t, err)
	defer reader.Close()

	states := func(f fleet.Fleet) map[string]string {
		out := map[string]string{}
		for _, st := range f.Instances {
			out[st.Instance] = st.State()
		}
		return out
	}
	f, err := reader.FleetStats(ctx)
	must(t, err)
	if got := states(f); got["running"] != "running" || got["killed"] != "running" || got["closed"] != "stopped" || f.Running != 2 {
		t.Fatalf("at once: states %v, running %d; want the closed one stopped and two running", got, f.Running)
	}
	if f.Recent.Hits != 200 || f.Total.Hits != 300 {
		t.Fatalf("at once: recent hits %d, total %d; want 200 (the two running) and 300", f.Recent.Hits, f.Total.Hits)
	}
	if len(f.HotKeys) == 0 {
		t.Fatal("at once: no hot keys")
	}
	for _, k := range f.HotKeys {
		if k.Key == "k-closed" {
			t.Fatal("at once: the closed instance's hot key is among the fleet's")
		}
	}

	// Two intervals and a little later, "running" publishes again and
	// "killed" does not: it is silent, its key not yet expired (three
	// intervals).
	clk.Advance(2*time.Hour + 3*time.Second)
	must(t, tradecache.PublishStatsNow(running, ctx))
	f, err = reader.FleetStats(ctx)
	must(t, err)
	if got := states(f); got["running"] != "running" || got["killed"] != "silent" || got["closed"] != "stopped" || f.Running != 1 {
		t.Fatalf("later: states %v, running %d; want running, silent and stopped, 1", got, f.Running)
	}
	if f.Total.Hits != 300 || f.Recent.Hits != 0 {
		t.Fatalf("later: total hits %d, recent %d; want 300, and 0 (the running one's new interval was idle)", f.Total.Hits, f.Recent.Hits)
	}
	for _, k := range f.HotKeys {
		if k.Key != "k-running" {
			t.Fatalf("hot key %s of an instance that is not running", k.Key)
		}
	}
}

// Silence is judged on the server's clock: a reader whose clock has
// jumped an hour ahead still sees a running instance running (judged by
// the snapshot's time against the reader's clock, it read as silent).
func TestAReadersClockDoesNotMakeAnInstanceSilent(t *testing.T) {
	_, base := publishedOne(t, "desk-a")
	ctx := testCtx(t)
	base.PublishStats = ptr(false)
	ahead := clock.New(time.Now().Add(time.Hour))
	reader := mustNew(t, base, tradecache.WithClock(ahead))
	f, err := reader.FleetStats(ctx)
	must(t, err)
	if len(f.Instances) != 1 || f.Instances[0].State() != fleet.Running || f.Running != 1 {
		t.Fatalf("instances %v, running %d; want desk-a running", names(f), f.Running)
	}
	if seen := f.Instances[0].Seen; seen < 0 || seen > 2*tradecache.DefaultStatsInterval {
		t.Fatalf("desk-a last seen %v ago, just after it published", seen)
	}
}

// publishedOne starts a redis-server on which an instance named name has
// written one key and published its figures once, and returns the server
// and the configuration that reaches it.
func publishedOne(t *testing.T, name string) (*redistest.Server, tradecache.Config) {
	t.Helper()
	srv := redistest.Start(t)
	cfg := tradecache.Config{Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr}}
	ctx := testCtx(t)
	c := mustNew(t, publishing(name, cfg))
	must(t, c.Set(ctx, "k", 1, 0))
	must(t, tradecache.PublishStatsNow(c, ctx))
	return srv, cfg
}

// storeOnAClock returns a clock the test moves and an in-memory store
// that keeps its time, closed when the test ends.
func storeOnAClock(t *testing.T) (*clock.Fake, *memstore.Store) {
	t.Helper()
	clk := clock.New(time.Unix(1_800_000_000, 0))
	ms, err := memstore.New(memstore.Options{Now: clk.Now})
	must(t, err)
	t.Cleanup(func() { ms.Close() })
	return clk, ms
}
