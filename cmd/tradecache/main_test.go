package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tradecache/tradecache/internal/redistest"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/usage.golden")

func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func clearRedisEnv(t *testing.T) {
	for _, v := range []string{"REDIS_URL", "REDIS_HOST", "REDIS_PORT", "CACHE_ENVIRONMENT", "CACHE_KEY_PREFIX",
		"REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS", "REDIS_SENTINEL_MASTER", "REDIS_READ_FROM_REPLICAS"} {
		t.Setenv(v, "")
	}
}

func checkDemoOutput(t *testing.T, out, backend string) {
	t.Helper()
	for _, want := range []string{
		"tradecache demo: " + backend + " store",
		"bid written 150.00, read back 150.00 (scale kept)",
		"value 1250000.50 USD",
		"VaR -23456.78 at 0.99",
		"MSFT               miss",
		"hits 4, misses 1, sets 4, errors 0, hit rate 80.0%",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func TestDemoInMemory(t *testing.T) {
	clearRedisEnv(t)
	out, _, err := runCmd(t, "demo")
	if err != nil {
		t.Fatal(err)
	}
	checkDemoOutput(t, out, "memory")
}

func TestDemoOnRedis(t *testing.T) {
	clearRedisEnv(t)
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", "redis://"+srv.Addr)
	out, _, err := runCmd(t, "demo")
	if err != nil {
		t.Fatal(err)
	}
	checkDemoOutput(t, out, "redis")

	t.Setenv("REDIS_URL", "")
	t.Setenv("REDIS_HOST", "127.0.0.1")
	t.Setenv("REDIS_PORT", strings.Split(srv.Addr, ":")[1])
	t.Setenv("CACHE_KEY_PREFIX", "demo2")
	out, _, err = runCmd(t, "demo")
	if err != nil {
		t.Fatal(err)
	}
	checkDemoOutput(t, out, "redis")
}

func TestUsageErrorsExitTwo(t *testing.T) {
	clearRedisEnv(t)
	for _, args := range [][]string{nil, {"frobnicate"}, {"demo", "-nope"}} {
		_, stderr, err := runCmd(t, args...)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%v: err %v, exit %d; want exit 2", args, err, exitCode(err))
		}
		if args == nil && !strings.Contains(stderr, "usage:") {
			t.Errorf("no usage text on stderr: %q", stderr)
		}
	}
	t.Setenv("CACHE_MAX_BATCH_SIZE", "0")
	t.Setenv("REDIS_PORT", "99999")
	_, _, err := runCmd(t, "demo")
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "CACHE_MAX_BATCH_SIZE") || !strings.Contains(err.Error(), "REDIS_PORT") {
		t.Fatalf("bad configuration: err %v, exit %d", err, exitCode(err))
	}
}

func TestUnreachableRedisExitsOne(t *testing.T) {
	clearRedisEnv(t)
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("REDIS_HOST", "127.0.0.1")
	t.Setenv("REDIS_PORT", strconv.Itoa(port))
	_, _, err = runCmd(t, "demo")
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "unavailable") {
		t.Fatalf("unreachable Redis: err %v, exit %d", err, exitCode(err))
	}
}

func TestOperationsCommands(t *testing.T) {
	clearRedisEnv(t)
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", "redis://"+srv.Addr)
	if _, _, err := runCmd(t, "demo"); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "stats")
	if err != nil || !strings.Contains(out, "backend") || !strings.Contains(out, "redis") || !strings.Contains(out, "clients") {
		t.Fatalf("stats: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, "stats", "--json")
	if err != nil || !strings.Contains(out, `"backend": "redis"`) || !strings.Contains(out, `"used_memory_human"`) || !strings.Contains(out, `"hit_rate"`) {
		t.Fatalf("stats --json: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, "health")
	if err != nil || !strings.Contains(out, "ready true") {
		t.Fatalf("health: %v\n%s", err, out)
	}
	// clear asks first; "no" clears nothing and exits 2.
	stdin = strings.NewReader("n\n")
	out, _, err = runCmd(t, "clear", "--namespace", "market_data")
	if err == nil || exitCode(err) != 2 || !strings.Contains(out, "not cleared") {
		t.Fatalf("unconfirmed clear: %v\n%s", err, out)
	}
	stdin = strings.NewReader("y\n")
	out, _, err = runCmd(t, "clear", "--namespace", "market_data")
	if err != nil || !strings.Contains(out, "removed 1 keys from namespace market_data") {
		t.Fatalf("confirmed clear: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, "clear", "--namespace", "session", "--yes")
	if err != nil || !strings.Contains(out, "removed 1 keys") {
		t.Fatalf("clear --yes: %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, "clear"); exitCode(err) != 2 {
		t.Fatalf("clear without --namespace: %v", err)
	}
	srv.Kill()
	if _, _, err := runCmd(t, "health"); err == nil || exitCode(err) != 1 {
		t.Fatalf("health with Redis down: %v, want exit 1", err)
	}
}

func TestBench(t *testing.T) {
	clearRedisEnv(t)
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", "redis://"+srv.Addr)
	html := t.TempDir() + "/report.html"
	out, _, err := runCmd(t, "bench", "--phase", "100ms", "--repeat", "2", "--json", "--html", html)
	if err != nil {
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench --json is not JSON: %v\n%s", err, out)
	}
	phases := map[string]benchResult{}
	for _, r := range rep.Results {
		phases[fmt.Sprintf("%s %s %d", r.Client, r.Name, r.Clients)] = r
		if r.Ops == 0 || r.OpsPerSec <= 0 || r.P99 < r.P50 || r.Max < r.P99 {
			t.Errorf("%s %s ×%d: %+v", r.Client, r.Name, r.Clients, r)
		}
		sum := 0.0
		for _, b := range r.Distribution {
			sum += b.Share
		}
		if sum < 0.99 || sum > 1.01 {
			t.Errorf("%s %s: latency distribution sums to %v", r.Client, r.Name, sum)
		}
	}
	for _, want := range []string{"tradecache get 1", "tradecache get 50", "tradecache set 1", "tradecache set 50",
		"tradecache get_many(10) 1", "tradecache get_many(100) 1", "tradecache get_many(1000) 1", "raw-rueidis get 1", "raw-rueidis get 50",
		"tradecache get_near 1", "tradecache get_near 50", "tradecache get_many_near(100) 1"} {
		if _, ok := phases[want]; !ok {
			t.Errorf("no phase %q", want)
		}
	}
	if r := phases["tradecache get_many(100) 1"]; r.PerKey <= 0 || r.KeysPerSec <= r.OpsPerSec {
		t.Errorf("batch figures %+v", r)
	}
	// Each phase ran twice, interleaved; each ratio is the median of the
	// rounds' ratios, with its range.
	for _, k := range []string{"tradecache get 1", "tradecache get 50", "tradecache get_many(100) 1"} {
		r := phases[k]
		if rep.Repeat != 2 || len(r.Runs) != 2 || r.RatioToRaw <= 0 || r.RatioMin > r.RatioToRaw || r.RatioToRaw > r.RatioMax || r.Noisy != (r.RatioMin < 1 && r.RatioMax > 1) {
			t.Errorf("%s: runs %v, ratio %v in [%v, %v], noisy %v", k, r.Runs, r.RatioToRaw, r.RatioMin, r.RatioMax, r.Noisy)
		}
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if !strings.Contains(page, "<svg") || !strings.Contains(page, "raw-rueidis") || strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "<script") {
		t.Fatalf("HTML report: needs inline SVG charts and no network or script references")
	}
	// The table form names the targets and the ratio.
	out, _, err = runCmd(t, "bench", "--phase", "50ms")
	if err != nil || !strings.Contains(out, "ratio get ×50: tradecache / raw rueidis") || !strings.Contains(out, "(runs ") || !strings.Contains(out, "\tmax\t") && !strings.Contains(out, " max ") || !strings.Contains(out, "avg < 1 ms") {
		t.Fatalf("bench table: %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, "bench", "--phase", "0s"); exitCode(err) != 2 {
		t.Fatalf("--phase 0: %v", err)
	}
}

func TestDemoWorkload(t *testing.T) {
	clearRedisEnv(t)
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", "redis://"+srv.Addr)
	out, _, err := runCmd(t, "demo", "--duration", "1s", "--symbols", "20")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"workload: 1", "on redis, 20 symbols", "quote updates", "valuations", "risk reads", "session touches", "errors 0", "get_or_load", "p99", "feed: ", "delivered to a subscriber"} {
		if !strings.Contains(out, want) {
			t.Errorf("workload summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "expire") || !strings.Contains(out, "touch") {
		t.Errorf("session touches are not labelled touch:\n%s", out)
	}
	if _, _, err := runCmd(t, "demo", "--symbols", "3"); exitCode(err) != 2 {
		t.Fatalf("--symbols 3: %v", err)
	}
	// Ctrl-C ends a run early: a summary, and no error counted for it.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	var o, e bytes.Buffer
	if err := run(ctx, []string{"demo", "--duration", "30s", "--symbols", "20"}, &o, &e); err != nil {
		t.Fatalf("interrupted demo: %v", err)
	}
	if !strings.Contains(o.String(), ", errors 0\n") {
		t.Fatalf("an interrupted run counted errors:\n%s", o.String())
	}
}

// The usage text is stable: golden file testdata/usage.golden
// (go test ./cmd/tradecache -run Usage -update-golden rewrites it).
func TestUsageGolden(t *testing.T) {
	out, _, err := runCmd(t, "help")
	if err != nil {
		t.Fatal(err)
	}
	if *updateGolden {
		if err := os.WriteFile("testdata/usage.golden", []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/usage.golden")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Fatalf("usage changed:\n%s\nwant:\n%s", out, want)
	}
}

// The CLI runs on a cluster and on Sentinel from the same variables the
// library reads, and says which topology it found.
func TestCommandsOnClusterAndSentinel(t *testing.T) {
	cl := redistest.StartCluster(t)
	g := redistest.StartSentinel(t)
	for _, c := range []struct {
		name, topology string
		env            map[string]string
	}{
		{"cluster", "cluster", map[string]string{"REDIS_CLUSTER_ADDRS": strings.Join(cl.Addrs(), ",")}},
		{"sentinel", "sentinel", map[string]string{"REDIS_SENTINEL_ADDRS": strings.Join(g.Addrs(), ","), "REDIS_SENTINEL_MASTER": redistest.MasterName}},
	} {
		t.Run(c.name, func(t *testing.T) {
			clearRedisEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			out, _, err := runCmd(t, "demo")
			if err != nil {
				t.Fatalf("demo: %v\n%s", err, out)
			}
			checkDemoOutput(t, out, "redis")
			out, _, err = runCmd(t, "stats")
			if err != nil || !strings.Contains(out, "redis ("+c.topology+")") {
				t.Fatalf("stats: %v\n%s", err, out)
			}
			out, _, err = runCmd(t, "health")
			if err != nil || !strings.Contains(out, "ready true") {
				t.Fatalf("health: %v\n%s", err, out)
			}
			if c.topology == "cluster" && !strings.Contains(out, "0 of 129 slot groups open") {
				t.Fatalf("health on a cluster does not report its slot groups:\n%s", out)
			}
			out, _, err = runCmd(t, "clear", "--namespace", "market_data", "--yes")
			if err != nil || !strings.Contains(out, "removed") {
				t.Fatalf("clear: %v\n%s", err, out)
			}
			// bench's raw rueidis client follows the same topology.
			out, _, err = runCmd(t, "bench", "--phase", "50ms")
			if err != nil || !strings.Contains(out, "raw") {
				t.Fatalf("bench: %v\n%s", err, out)
			}
		})
	}
}

// With no Redis address, the operations commands refuse the in-memory
// store (exit 2, naming REDIS_HOST and REDIS_URL) unless asked for it; a
// typo in a variable's name is refused with the name it was meant to be;
// the demo still runs with no Redis at all.
func TestNoSilentInMemoryFallback(t *testing.T) {
	clearRedisEnv(t)
	for _, args := range [][]string{{"health"}, {"stats"}, {"clear", "--namespace", "risk", "--yes"}} {
		_, _, err := runCmd(t, args...)
		if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "REDIS_HOST") || !strings.Contains(fmt.Sprint(err), "REDIS_URL") {
			t.Errorf("%v with no Redis: %v (exit %d); want exit 2 naming REDIS_HOST and REDIS_URL", args, err, exitCode(err))
		}
	}
	if out, _, err := runCmd(t, "health", "--memory"); err != nil || !strings.Contains(out, "memory") {
		t.Fatalf("health --memory: %v\n%s", err, out)
	}
	t.Setenv("REDIS_ULR", "redis://127.0.0.1:1")
	_, _, err := runCmd(t, "health")
	if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "did you mean REDIS_URL?") {
		t.Fatalf("health with REDIS_ULR: %v (exit %d)", err, exitCode(err))
	}
	t.Setenv("REDIS_ULR", "")
	t.Setenv("CACHE_ENVIRONMENT", "production")
	if _, _, err := runCmd(t, "demo"); exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "REDIS_URL") {
		t.Fatalf("demo in production with no Redis: %v (exit %d)", err, exitCode(err))
	}
	t.Setenv("CACHE_ENVIRONMENT", "")
	if out, _, err := runCmd(t, "demo"); err != nil || !strings.Contains(out, "memory store") {
		t.Fatalf("demo with no Redis: %v\n%s", err, out)
	}
}

// The built binary: every subcommand's --help exits 0 with no error line;
// a bad flag value is said once and exits 2; a configuration error exits 2.
func TestBinaryExitCodesAndMessages(t *testing.T) {
	bin := buildBinary(t)
	runBin := func(env []string, args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	noRedis := []string{"REDIS_URL=", "REDIS_HOST=", "REDIS_CLUSTER_ADDRS=", "REDIS_SENTINEL_ADDRS=", "CACHE_ENVIRONMENT="}
	for _, sub := range []string{"demo", "bench", "stats", "top", "feed", "health", "clear"} {
		out, code := runBin(noRedis, sub, "--help")
		if code != 0 || strings.Contains(out, "tradecache: ") {
			t.Errorf("%s --help: exit %d\n%s", sub, code, out)
		}
	}
	out, code := runBin(noRedis, "demo", "--duration", "soon")
	if code != 2 || strings.Count(out, "invalid value") != 1 {
		t.Errorf("a bad flag value: exit %d, said %d times\n%s", code, strings.Count(out, "invalid value"), out)
	}
	// Arguments after the flags are refused, not ignored; a bad namespace is
	// a usage error; feed tail does not suggest --memory, which it lacks;
	// demo and bench warn of unknown variables as the other commands do.
	for _, args := range [][]string{{"demo", "x"}, {"bench", "x"}, {"stats", "x"}, {"clear", "--namespace", "a:b", "--memory"}} {
		if out, code := runBin(noRedis, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, out)
		}
	}
	if out, code := runBin(noRedis, "feed", "tail", "X"); code != 2 || strings.Contains(out, "--memory") {
		t.Errorf("feed tail without Redis: exit %d\n%s", code, out)
	}
	if out, code := runBin([]string{"REDIS_URL=redis://127.0.0.1:1", "CACHE_ENVIRONMENT="}, "health", "--json"); code != 1 ||
		!strings.HasPrefix(out, `{"backend":"redis","reachable":false`) {
		t.Errorf("health --json against no server: exit %d, want 1 and JSON first\n%s", code, out)
	}
	if out, _ := runBin(append(noRedis, "REDIS_HOSTNAME=x"), "demo", "--duration", "100ms", "--symbols", "10"); !strings.Contains(out, "REDIS_HOSTNAME") {
		t.Errorf("demo did not warn of REDIS_HOSTNAME:\n%s", out)
	}
	out, code = runBin(append(noRedis, "CACHE_MAX_BATCH_SIZE=0"), "demo")
	if code != 2 || strings.Count(out, "tradecache:") != 1 || !strings.Contains(out, "CACHE_MAX_BATCH_SIZE") {
		t.Errorf("a configuration error: exit %d\n%s", code, out)
	}
}

// Every --json is snake_case: no key has an upper-case letter.
func TestJSONIsSnakeCase(t *testing.T) {
	clearRedisEnv(t)
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", "redis://"+srv.Addr)
	if _, _, err := runCmd(t, "demo"); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if strings.ToLower(k) != k && !strings.Contains(path, "ops") && !strings.Contains(path, "namespaces") && !strings.Contains(path, "errors_by_kind") {
					t.Errorf("key %s.%s is not snake_case", path, k)
				}
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range x {
				walk(path+"[]", e)
			}
		}
	}
	for _, cmd := range [][]string{{"stats", "--json"}, {"health", "--json"}} {
		out, _, err := runCmd(t, cmd...)
		if err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v: %v\n%s", cmd, err, out)
		}
		walk(cmd[0], v)
	}
}

// No command prints a password from REDIS_URL, whatever shape the URL has
// (without a scheme, url.Parse reads the user name as the scheme and the
// password as opaque text).
func TestNoCommandPrintsAURLPassword(t *testing.T) {
	bin := buildBinary(t)
	const pw = "SeCrEtPw123"
	urls := []string{"app:" + pw + "@127.0.0.1:6390", "redis://" + pw + "@127.0.0.1:1", "redis://app:" + pw + "#x@127.0.0.1:1",
		"app:" + pw + "@%zz:6390", "redis://127.0.0.1:1/0?password=" + pw}
	cmds := [][]string{{"health"}, {"health", "--json"}, {"stats"}, {"clear", "--namespace", "x"}, {"demo"}, {"bench"}, {"top"}, {"feed", "tail", "AAPL"}}
	for _, u := range urls {
		for _, args := range cmds {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = append(os.Environ(), "REDIS_URL="+u, "REDIS_HOST=", "CACHE_ENVIRONMENT=", "CACHE_OP_TIMEOUT=100ms")
			out, _ := cmd.CombinedOutput()
			cancel()
			if strings.Contains(string(out), pw) {
				t.Errorf("REDIS_URL=%q tradecache %s printed the password:\n%s", u, strings.Join(args, " "), out)
			}
		}
	}
}
