package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/internal/testkit"
	"github.com/tradecache/tradecache/store"
	"github.com/tradecache/tradecache/store/redisstore"
)

// startDemo runs the built binary's demo workload against redisURL for d,
// in its own process, and returns a wait for its end.
func startDemo(t *testing.T, bin, redisURL string, d time.Duration) func() {
	t.Helper()
	demo := exec.Command(bin, "demo", "--duration", d.String(), "--symbols", "20")
	// What the tests check is what the commands show, not speed: generous
	// bounds keep a busy machine's slow call from ending the demo.
	demo.Env = append(os.Environ(), "REDIS_URL="+redisURL, "CACHE_INSTANCE_NAME=demo-1", "CACHE_STATS_INTERVAL=1s",
		"CACHE_OP_TIMEOUT=2s", "CACHE_BATCH_TIMEOUT=5s")
	var out strings.Builder
	demo.Stdout, demo.Stderr = &out, &out
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = demo.Process.Kill(); _, _ = demo.Process.Wait() })
	return func() {
		if err := demo.Wait(); err != nil {
			t.Fatalf("demo: %v\n%s", err, out.String())
		}
	}
}

// `stats --json`, in a process of its own, shows what a demo running in
// another process does (running, with its last interval and hot keys, by
// hash), and, once it has ended, what it did: its hits, hit rate and p99
// since it started, from the figures the demo published, with the demo
// no longer counted as running.
func TestStatsShowsAnotherProcesssFigures(t *testing.T) {
	bin := buildBinary(t)
	srv := redistest.Start(t)
	url := "redis://" + srv.Addr
	wait := startDemo(t, bin, url, 3*time.Second)
	stats := func() fleetView {
		cmd := exec.Command(bin, "stats", "--json")
		cmd.Env = append(os.Environ(), "REDIS_URL="+url)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("stats --json: %v\n--- stdout\n%s\n--- stderr\n%s", err, out, stderr.String())
		}
		var v fleetView
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return v
	}

	// While it runs (it publishes every second).
	v := stats()
	if !testkit.Poll(30*time.Second, func() bool { v = stats(); return v.Running == 1 && v.Recent.Hits > 0 && len(v.HotKeys) > 0 }) {
		t.Fatalf("the running demo never showed as running with a busy last interval and hot keys: %+v", v)
	}
	if v.Instances[0].State != "running" || v.Recent.OpsPerSec <= 0 {
		t.Fatalf("the running demo: state %q, ops/s %v", v.Instances[0].State, v.Recent.OpsPerSec)
	}
	if v.HotKeys[0].Key != "" || len(v.HotKeys[0].KeyHash) != 16 {
		t.Fatalf("hot keys %+v: want hashes, not keys, by default", v.HotKeys)
	}

	// Once it has ended.
	wait()
	v = stats()
	if len(v.Instances) != 1 || v.Instances[0].Instance != "demo-1" {
		t.Fatalf("instances %+v, want the demo's", v.Instances)
	}
	if v.Instances[0].State != "stopped" || v.Running != 0 || v.Recent.Hits != 0 || len(v.HotKeys) != 0 {
		t.Fatalf("the ended demo: state %q, running %d, fleet recent hits %d, hot keys %d; want stopped, 0, 0, 0",
			v.Instances[0].State, v.Running, v.Recent.Hits, len(v.HotKeys))
	}
	tot := v.Total
	if tot.Hits < 1000 || tot.HitRate < 0.9 || tot.Latency.P99 <= 0 || tot.Ops["get_or_load"].P99 <= 0 {
		t.Fatalf("the demo's figures: hits %d, hit rate %.3f, p99 %v, get_or_load p99 %v", tot.Hits, tot.HitRate, tot.Latency.P99, tot.Ops["get_or_load"].P99)
	}
	if v.Streams.Published < 100 || v.Streams.Read < 100 {
		t.Fatalf("the demo's feed: %+v", v.Streams)
	}
	t.Logf("demo seen by stats: hits %d, hit rate %.1f%%, p99 %v", tot.Hits, 100*tot.HitRate, tot.Latency.P99)
}

// `top` under tmux: it draws the fleet in place while a demo runs in
// another process, k shows keys instead of hashes, and q quits leaving
// the terminal as it was.
func TestTopUnderTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Fatal("tmux not found: run `make test` (it installs it), or `apt-get install -y tmux`")
	}
	bin := buildBinary(t)
	srv := redistest.Start(t)
	url := "redis://" + srv.Addr
	startDemo(t, bin, url, 30*time.Second)

	sock := filepath.Join(t.TempDir(), "tmux.sock") // a server of the test's own
	tm := func(args ...string) string {
		out, err := exec.Command(tmux, append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tm("new-session", "-d", "-x", "130", "-y", "40", "-s", "top", "env", "REDIS_URL="+url, "TERM=tmux-256color", bin, "top", "--interval", "300ms")
	t.Cleanup(func() { _ = exec.Command(tmux, "-S", sock, "kill-server").Run() })
	screen := func(want ...string) string {
		t.Helper()
		var s string
		if !testkit.Poll(30*time.Second, func() bool {
			s = tm("capture-pane", "-p", "-t", "top")
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(s, w)
			}
			return ok
		}) {
			t.Fatalf("the screen never showed %q:\n%s", want, s)
		}
		return s
	}
	s := screen("fleet 1 running", "market_data", "demo-1", "running", "closed", "HOT KEYS", "portfolio ")
	t.Logf("tradecache top under tmux:\n%s", s)
	tm("send-keys", "-t", "top", "k")
	screen(`"`) // keys are shown quoted
	tm("send-keys", "-t", "top", "q")
	testkit.Eventually(t, 10*time.Second, "q quit top", func() bool { return exec.Command(tmux, "-S", sock, "has-session", "-t", "top").Run() != nil })
}

// top --once prints one frame as text; a frame with no instance says so.
func TestTopOnceWithNoInstances(t *testing.T) {
	clearRedisEnv(t)
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", "redis://"+srv.Addr)
	out, _, err := runCmd(t, "top", "--once")
	if err != nil || !strings.Contains(out, "fleet 0 running") || !strings.Contains(out, "none live") {
		t.Fatalf("top --once: %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, "top", "--interval", "1ms"); exitCode(err) != 2 {
		t.Fatalf("top --interval 1ms: %v, want a usage error", err)
	}
}

// feed tail prints a symbol's current quote, then each published update,
// from a process of its own.
func TestFeedTail(t *testing.T) {
	bin := buildBinary(t)
	srv := redistest.Start(t)
	url := "redis://" + srv.Addr
	tail := exec.Command(bin, "feed", "tail", "SYM000", "SYM001")
	tail.Env = append(os.Environ(), "REDIS_URL="+url, "CACHE_OP_TIMEOUT=2s", "CACHE_BATCH_TIMEOUT=5s")
	var out testkit.SyncBuffer
	tail.Stdout, tail.Stderr = &out, &out
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tail.Process.Kill(); _, _ = tail.Process.Wait() }()
	startDemo(t, bin, url, 2*time.Second)()
	if !testkit.Poll(20*time.Second, func() bool {
		return strings.Count(out.String(), "SYM000") > 10 && strings.Contains(out.String(), "lag")
	}) {
		t.Fatalf("feed tail printed:\n%s", out.String())
	}
	_ = tail.Process.Signal(os.Interrupt)
	if err := tail.Wait(); err != nil {
		t.Fatalf("feed tail after Ctrl-C: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	t.Logf("feed tail: %d lines, e.g.\n%s", len(lines), strings.Join(lines[len(lines)-3:], "\n"))
	if _, _, err := runCmd(t, "feed", "tail"); exitCode(err) != 2 {
		t.Fatalf("feed tail without symbols: %v", err)
	}
}

// unreachableDeletes is a Redis store that refuses deletes for a passing
// state (as a shard in CLUSTERDOWN would): the Cache over it queues them
// (durable invalidation), and keeps publishing its figures through the
// store's other calls, which a refusal does not hold against the breaker.
type unreachableDeletes struct{ store.Store }

func (unreachableDeletes) Delete(context.Context, ...string) (int64, error) {
	return 0, fmt.Errorf("%w: CLUSTERDOWN the cluster is down", store.ErrRefused)
}

// `stats --json` and `stats` show an instance's queue of invalidations
// waiting for Redis, from the figures it publishes.
func TestStatsShowsTheInvalidationQueue(t *testing.T) {
	bin := buildBinary(t)
	srv := redistest.Start(t)
	url := "redis://" + srv.Addr
	ctx := context.Background()
	rs, err := redisstore.Open(ctx, redisstore.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	on := true
	c, err := tradecache.New(ctx, tradecache.Config{PublishStats: &on, StatsInterval: time.Second, InstanceName: "queuer", OpTimeout: 2 * time.Second},
		tradecache.WithStore(unreachableDeletes{rs}), tradecache.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Delete(ctx, "a", "b"); err != nil {
		t.Fatalf("Delete = %v, want the deletes queued", err)
	}
	run := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "REDIS_URL="+url)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v\n--- stdout\n%s\n--- stderr\n%s", args, err, out, stderr.String())
		}
		return string(out)
	}
	var out string
	if !testkit.Poll(30*time.Second, func() bool {
		var v fleetView
		out = run("stats", "--json")
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return len(v.Instances) == 1 && v.Instances[0].Invalidations.Queued == 2
	}) {
		t.Fatalf("stats --json never showed the 2 queued deletes: %s", out)
	}
	if out := run("stats"); !strings.Contains(out, "queuer: 2 waiting for Redis") {
		t.Fatalf("stats does not show the queue:\n%s", out)
	}
}

// `bars tail` prints the 1 s bars a demo in another process builds from
// its trades, as they close, each with its trade count, and stops cleanly
// on Ctrl-C.
func TestBarsTail(t *testing.T) {
	bin := buildBinary(t)
	srv := redistest.Start(t)
	url := "redis://" + srv.Addr
	tail := exec.Command(bin, "bars", "tail", "--json", "SYM000", "SYM001")
	tail.Env = append(os.Environ(), "REDIS_URL="+url, "CACHE_OP_TIMEOUT=2s", "CACHE_BATCH_TIMEOUT=5s")
	var out, errOut testkit.SyncBuffer
	tail.Stdout, tail.Stderr = &out, &errOut
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tail.Process.Kill(); _, _ = tail.Process.Wait() }()
	startDemo(t, bin, url, 4*time.Second)()
	if !testkit.Poll(20*time.Second, func() bool { return strings.Count(out.String(), `"symbol":"SYM000"`) >= 2 }) {
		t.Fatalf("bars tail printed:\n%s\n--- stderr\n%s", out.String(), errOut.String())
	}
	_ = tail.Process.Signal(os.Interrupt)
	if err := tail.Wait(); err != nil {
		t.Fatalf("bars tail after Ctrl-C: %v\n%s", err, errOut.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var b struct {
			Symbol, Interval, Open, Volume string
			Trades                         int
		}
		if err := json.Unmarshal([]byte(line), &b); err != nil || b.Interval != "1s" || b.Trades < 1 || b.Open == "" || b.Volume == "" {
			t.Fatalf("bars tail line %q: %+v %v", line, b, err)
		}
	}
	t.Logf("bars tail: %s", strings.Split(out.String(), "\n")[0])
	if _, _, err := runCmd(t, "bars", "tail"); exitCode(err) != 2 {
		t.Fatalf("bars tail without symbols: %v", err)
	}
}
