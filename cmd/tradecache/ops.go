package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tradecache/tradecache"
)

// errNotReady makes `tradecache health` exit 1 when the store is not ready.
var errNotReady = errors.New("not ready")

// errNoRedis is what an operations command says when the environment
// names no Redis: it would otherwise report on a private, empty in-memory
// store, and a readiness probe with a typo in its variable would pass.
var errNoRedis = usageError{msg: "no Redis address: set REDIS_URL or REDIS_HOST (or REDIS_CLUSTER_ADDRS, or REDIS_SENTINEL_ADDRS with REDIS_SENTINEL_MASTER); " +
	"--memory runs on this process's own in-memory store instead"}

// openCache opens the cache the environment describes. Unless memory is
// set, an environment without a Redis address is a usage error; unknown
// REDIS_* and CACHE_* variables are warned of on stderr.
func openCache(ctx context.Context, memory bool, stderr io.Writer) (*tradecache.Cache, error) {
	cfg, err := tradecache.ConfigFromEnv()
	if err != nil {
		return nil, usageError{msg: err.Error()}
	}
	for _, v := range tradecache.UnknownEnv() {
		fmt.Fprintf(stderr, "tradecache: warning: %s is not a variable tradecache reads\n", v)
	}
	if !cfg.Redis.Enabled() && !memory {
		return nil, errNoRedis
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return tradecache.New(cctx, cfg, tradecache.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
}

// openWithJSONFlag parses a command that takes --json and --memory, then
// opens the cache.
func openWithJSONFlag(ctx context.Context, name string, args []string, stderr io.Writer) (*tradecache.Cache, bool, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	memory := fs.Bool("memory", false, "run on this process's in-memory store when no Redis is configured")
	if err := fs.Parse(args); err != nil {
		return nil, false, flagError(err)
	}
	c, err := openCache(ctx, *memory, stderr)
	return c, *asJSON, err
}

func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, asJSON, err := openWithJSONFlag(ctx, "stats", args, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	st := c.Stats(ctx)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(statsJSON(st))
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if st.Topology != "" {
		fmt.Fprintf(w, "backend\t%s (%s)\n", st.Backend, st.Topology)
	} else {
		fmt.Fprintf(w, "backend\t%s\n", st.Backend)
	}
	fmt.Fprintf(w, "breaker\t%s (opened %d, rejected %d)\n", st.Breaker, st.BreakerTransitions.Opened, st.BreakerTransitions.Rejected)
	if r := st.Redis; r != nil {
		fmt.Fprintf(w, "redis\tclients %d, memory %s, ops/s %d, keyspace hits %d, misses %d, evicted %d, expired %d\n",
			r.ConnectedClients, r.UsedMemoryHuman, r.InstantaneousOpsPerSec, r.KeyspaceHits, r.KeyspaceMisses, r.EvictedKeys, r.ExpiredKeys)
	}
	fmt.Fprintf(w, "this process\thits %d, misses %d, hit rate %.1f%%, errors %d\n", st.Hits, st.Misses, 100*st.HitRate(), st.Errors)
	ops := make([]string, 0, len(st.Ops))
	for op := range st.Ops {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		o := st.Ops[op]
		fmt.Fprintf(w, "%s\tcount %d, avg %v, p50 %v, p99 %v, max %v\n", op, o.Count, round(o.Avg), round(o.P50), round(o.P99), round(o.Max))
	}
	return w.Flush()
}

func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, asJSON, err := openWithJSONFlag(ctx, "health", args, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	h := c.Health(ctx)
	if asJSON {
		if err := json.NewEncoder(stdout).Encode(h); err != nil {
			return err
		}
	} else {
		breaker := h.Breaker
		if h.Parts > 0 {
			breaker = fmt.Sprintf("%s (%d of %d slot groups open)", h.Breaker, h.OpenParts, h.Parts)
		}
		fmt.Fprintf(stdout, "%s: reachable %t, ping %v, breaker %s, ready %t\n", h.Backend, h.Reachable, round(h.PingLatency), breaker, h.Ready)
		if h.LastError != "" {
			fmt.Fprintf(stdout, "error: %s\n", h.LastError)
		}
	}
	if !h.Ready {
		return errNotReady
	}
	return nil
}

func runClear(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("clear", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ns := fs.String("namespace", "", "the namespace to clear (required)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	memory := fs.Bool("memory", false, "run on this process's in-memory store when no Redis is configured")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if *ns == "" {
		return usageError{msg: "clear needs --namespace"}
	}
	c, err := openCache(ctx, *memory, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	if !*yes {
		fmt.Fprintf(stdout, "remove every key of namespace %q under prefix %q on %s? [y/N] ", *ns, c.Config().KeyPrefix, c.Backend())
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(stdout, "not cleared")
			return usageError{msg: "not confirmed"}
		}
	}
	n, err := c.ClearNamespace(ctx, *ns)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "removed %d keys from namespace %s\n", n, *ns)
	return nil
}

var stdin io.Reader = os.Stdin

// statsJSON is Stats as `stats --json` prints it: the library's snake_case
// form with the hit rates, overall and per namespace, beside the counts.
func statsJSON(st tradecache.Stats) any {
	type ns struct {
		tradecache.NamespaceStats
		HitRate float64 `json:"hit_rate"`
	}
	nss := make(map[string]ns, len(st.Namespaces))
	for name, n := range st.Namespaces {
		nss[name] = ns{n, n.HitRate()}
	}
	st.Namespaces = nil // replaced by the form with hit rates
	return struct {
		tradecache.Stats
		HitRate    float64       `json:"hit_rate"`
		Namespaces map[string]ns `json:"namespaces,omitempty"`
	}{st, st.HitRate(), nss}
}
