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
	"strconv"
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

// Operator bounds: what an operations command (stats, top, clear, feed
// tail) waits for one call and one batch when CACHE_OP_TIMEOUT and
// CACHE_BATCH_TIMEOUT do not say. A service's 100 ms bound is for its hot
// path; `stats` on a busy host once failed for it ("store timeout") while
// Redis answered. health keeps the service's bounds: it says whether a
// service would be served.
const (
	operatorOpTimeout    = 2 * time.Second
	operatorBatchTimeout = 5 * time.Second
)

// openCache opens the cache the environment describes, with the operator
// bounds unless serviceBounds. Unless memory is set, an environment
// without a Redis address is a usage error; unknown REDIS_* and CACHE_*
// variables are warned of on stderr.
func openCache(ctx context.Context, memory, serviceBounds bool, stderr io.Writer) (*tradecache.Cache, error) {
	cfg, err := tradecache.ConfigFromEnv()
	if err != nil {
		return nil, usageError{msg: err.Error()}
	}
	warnUnknownEnv(stderr)
	if !cfg.Redis.Enabled() && !memory {
		return nil, errNoRedis
	}
	cfg.PublishStats = new(bool) // an operations command is not an instance to count
	if !serviceBounds {
		if cfg.OpTimeout == 0 {
			cfg.OpTimeout = operatorOpTimeout
		}
		if cfg.BatchTimeout == 0 {
			cfg.BatchTimeout = operatorBatchTimeout
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return tradecache.New(cctx, cfg, tradecache.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
}

// openWithJSONFlag parses a command that takes --json and --memory, then
// opens the cache with the service's bounds (health).
func openWithJSONFlag(ctx context.Context, name string, args []string, stderr io.Writer) (*tradecache.Cache, bool, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	memory := fs.Bool("memory", false, "run on this process's in-memory store when no Redis is configured")
	if err := parseFlags(fs, args); err != nil {
		return nil, false, err
	}
	c, err := openCache(ctx, *memory, true, stderr)
	return c, *asJSON, err
}

func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	memory := fs.Bool("memory", false, "run on this process's in-memory store when no Redis is configured")
	keys := fs.Bool("keys", false, "show hot keys as keys, not as key hashes (keys can be session tokens)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := openCache(ctx, *memory, false, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := readFleet(ctx, c, *keys)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, v)
	}
	return printStats(stdout, v)
}

// printStats is `stats` as text.
func printStats(stdout io.Writer, v fleetView) error {
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	backend := v.Backend
	if v.Topology != "" {
		backend += " (" + v.Topology + ")"
	}
	fmt.Fprintf(w, "backend\t%s, key prefix %s\n", backend, v.Prefix)
	if r := v.Redis; r != nil {
		fmt.Fprintf(w, "redis\tclients %d, memory %s, ops/s %d, keyspace hits %d, misses %d, evicted %d, expired %d\n",
			r.ConnectedClients, r.UsedMemoryHuman, r.InstantaneousOpsPerSec, r.KeyspaceHits, r.KeyspaceMisses, r.EvictedKeys, r.ExpiredKeys)
	}
	if len(v.Instances) == 0 {
		fmt.Fprintf(w, "instances\tnone live: no Cache has published figures under prefix %q in the last three intervals "+
			"(CACHE_PUBLISH_STATS, on where metrics are)\n", v.Prefix)
	} else {
		var names []string
		for _, in := range v.Instances {
			names = append(names, fmt.Sprintf("%s (%s, %s, %s, %v ago)", in.Instance, in.Host, in.Version, in.State, round(in.Age)))
		}
		fmt.Fprintf(w, "instances\t%d running of %d: %s\n", v.Running, len(v.Instances), strings.Join(names, ", "))
	}
	for _, r := range v.Refused {
		fmt.Fprintf(w, "refused\t%s: %s\n", r.Instance, r.Reason)
	}
	if len(v.Instances) == 0 {
		return w.Flush()
	}
	t, r := v.Total, v.Recent
	fmt.Fprintf(w, "since start\thits %d, misses %d, hit rate %.1f%%, sets %d, deletes %d, errors %d, p99 %v\n",
		t.Hits, t.Misses, 100*t.HitRate, t.Sets, t.Deletes, t.Errors, round(t.Latency.P99))
	if v.Running == 0 {
		fmt.Fprintf(w, "last interval\tno instance running\n")
	} else {
		fmt.Fprintf(w, "last interval\t%.0f ops/s, hit rate %.1f%%, errors %d, p99 %v (running instances)\n", r.OpsPerSec, 100*r.HitRate, r.Errors, round(r.Latency.P99))
	}
	for _, name := range sortedKeys(t.Namespaces) {
		n := t.Namespaces[name]
		fmt.Fprintf(w, "namespace %s\thits %d, misses %d, hit rate %.1f%%, sets %d, errors %d, p50 %v, p99 %v\n",
			name, n.Hits, n.Misses, 100*n.HitRate, n.Sets, n.Errors, round(n.Latency.P50), round(n.Latency.P99))
	}
	for _, op := range sortedKeys(t.Ops) {
		o := t.Ops[op]
		fmt.Fprintf(w, "%s\tcount %d, avg %v, p50 %v, p99 %v, max %v\n", op, o.Count, round(o.Avg), round(o.P50), round(o.P99), round(o.Max))
	}
	if s := v.Streams; s.Published+s.Read > 0 {
		fmt.Fprintf(w, "feed\tpublished %d, refused %d, read %d, acked %d, claimed %d, dead-lettered %d, worst lag p99 %v\n",
			s.Published, s.Refused, s.Read, s.Acked, s.Claimed, s.DeadLettered, round(s.LagP99))
	}
	for _, in := range v.Instances {
		if q := in.Invalidations; q.Enqueued > 0 {
			fmt.Fprintf(w, "invalidations\t%s: %d waiting for Redis (oldest %v), %d queued, %d applied, %d refused (queue full)\n",
				in.Instance, q.Queued, round(q.OldestAge), q.Enqueued, q.Applied, q.Dropped)
		}
	}
	for _, k := range v.HotKeys {
		fmt.Fprintf(w, "hot key\t%s %s, %.0f reads/s\n", k.Namespace, hotKeyName(k), k.ReadsPerSec)
	}
	return w.Flush()
}

// hotKeyName is the key when shown, its hash otherwise.
func hotKeyName(k hotKeyView) string {
	if k.Key != "" {
		return strconv.Quote(k.Key)
	}
	return k.KeyHash
}

func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, asJSON, err := openWithJSONFlag(ctx, "health", args, stderr)
	var usage usageError
	if err != nil && asJSON && !errors.As(err, &usage) {
		// A store that cannot be reached is a health verdict, not only an
		// error: --json prints it as JSON too, for a probe that parses it.
		_ = json.NewEncoder(stdout).Encode(tradecache.Health{Backend: "redis", Breaker: "none", LastError: err.Error(),
			AuthFailing: errors.Is(err, tradecache.ErrAuth), CheckedAt: time.Now()})
		return err
	}
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ns == "" {
		return usageError{msg: "clear needs --namespace"}
	}
	if !validName(*ns) {
		return usageError{msg: fmt.Sprintf("clear --namespace %q: a namespace is 1-64 of letters, digits, '_', '.' and '-'", *ns)}
	}
	c, err := openCache(ctx, *memory, false, stderr)
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

// validName is the namespace grammar (1-64 of [A-Za-z0-9_.-]): a bad name
// is a usage error (exit 2), found before connecting.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// writeJSON writes v as indented JSON: what a command's --json prints.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
