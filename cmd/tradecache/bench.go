package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/redis/rueidis"
	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/hist"
)

// benchResult is one measured phase of `tradecache bench`.
type benchResult struct {
	Name       string        `json:"name"`
	Client     string        `json:"client"` // tradecache or raw-rueidis
	Clients    int           `json:"clients"`
	Batch      int           `json:"batch,omitempty"`
	Ops        uint64        `json:"ops"`
	OpsPerSec  float64       `json:"ops_per_sec"`
	KeysPerSec float64       `json:"keys_per_sec"`
	Avg        time.Duration `json:"avg_ns"`
	P50        time.Duration `json:"p50_ns"`
	P99        time.Duration `json:"p99_ns"`
	Max        time.Duration `json:"max_ns"`
	PerKey     time.Duration `json:"per_key_ns,omitempty"`
	// Runs are the ops/s of each repetition of the phase; OpsPerSec and
	// the latencies above are the median run's (by ops/s).
	Runs []float64 `json:"runs_ops_per_sec"`
	// RatioToRaw is tradecache's ops/s over the raw client's for the same
	// phase, run by run (the runs are interleaved, so each pair shares the
	// machine's state): the median, its range, and Noisy when the range
	// holds 1.0, so the sign of the difference is not known.
	RatioToRaw float64 `json:"ratio_to_raw,omitempty"`
	RatioMin   float64 `json:"ratio_min,omitempty"`
	RatioMax   float64 `json:"ratio_max,omitempty"`
	Noisy      bool    `json:"noisy,omitempty"`
	// Target is the replaced layer's target for this phase, and Met
	// whether it was met.
	Target string `json:"target,omitempty"`
	Met    bool   `json:"met"`
	// Distribution is the share of calls in each latency band, for charts.
	Distribution []band `json:"distribution"`
}

type band struct {
	UpTo  time.Duration `json:"up_to_ns"`
	Share float64       `json:"share"`
}

var bandEdges = []time.Duration{25 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond,
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond, time.Second}

type benchReport struct {
	Backend string        `json:"backend"`
	Phase   time.Duration `json:"phase_ns"`
	Repeat  int           `json:"repeat"`
	Results []benchResult `json:"results"`
}

type benchQuote struct {
	Symbol string          `json:"symbol"`
	Bid    decimal.Decimal `json:"bid"`
	Ask    decimal.Decimal `json:"ask"`
	At     time.Time       `json:"at"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	phase := fs.Duration("phase", time.Second, "how long each run of a phase lasts")
	repeat := fs.Int("repeat", 3, "how many times each phase runs, interleaved with the others")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	htmlOut := fs.String("html", "", "also write an HTML report with latency charts to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *phase <= 0 || *repeat < 1 {
		return usageError{msg: "--phase must be positive and --repeat at least 1"}
	}
	cfg, err := tradecache.ConfigFromEnv()
	if err != nil {
		return usageError{msg: err.Error()}
	}
	warnUnknownEnv(stderr)
	off := false
	cfg.LogSlowOps = &off
	c, err := openBenchCache(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	ns := c.Namespace("bench")
	q := benchQuote{Symbol: "AAPL", Bid: decimal.RequireFromString("150.00"), Ask: decimal.RequireFromString("150.02"), At: time.Now()}
	items := map[string]any{}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
		items[keys[i]] = q
	}
	if err := ns.SetMany(ctx, items, time.Hour); err != nil {
		return err
	}
	defer c.ClearNamespace(context.Background(), "bench")

	phases := cachePhases(ns, keys, q)
	if c.Backend() == "redis" {
		near, closeNear, err := nearPhases(ctx, cfg, keys)
		if err != nil {
			return err
		}
		defer closeNear()
		raw, err := rawPhases(c, cfg)
		if err != nil {
			return err
		}
		phases = append(append(phases, near...), raw...)
	}
	report := runPhases(ctx, phases, *phase, *repeat, stderr)
	report.Backend = c.Backend()
	if *htmlOut != "" {
		if err := writeHTML(*htmlOut, report); err != nil {
			return err
		}
	}
	if *asJSON {
		return writeJSON(stdout, report)
	}
	return printReport(stdout, report)
}

// openBenchCache opens a Cache on cfg, waiting at most 5 s to connect.
func openBenchCache(ctx context.Context, cfg tradecache.Config) (*tradecache.Cache, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return tradecache.New(cctx, cfg)
}

// phaseSpec is one phase of the benchmark: what it runs, on how many
// clients, and the replaced layer's target it is held to (meets), if any.
type phaseSpec struct {
	name, client, target string
	clients, batch       int
	meets                func(r benchResult) bool
	op                   func(ctx context.Context, i int) error
	close                func() // what the phase opened, if anything
}

// cachePhases are the replaced layer's targets: get and set at 1 and 50
// clients, and get_many of 10, 100 and 1000 keys.
func cachePhases(ns *tradecache.Namespace, keys []string, q benchQuote) []phaseSpec {
	get := func(ctx context.Context, i int) error {
		var out benchQuote
		_, err := ns.Get(ctx, keys[i%1000], &out)
		return err
	}
	set := func(ctx context.Context, i int) error { return ns.Set(ctx, keys[i%1000], q, time.Hour) }
	getTarget := func(r benchResult) bool { return r.Avg < time.Millisecond && r.P99 < 5*time.Millisecond }
	setTarget := func(r benchResult) bool { return r.Avg < 2*time.Millisecond && r.P99 < 10*time.Millisecond }
	phases := []phaseSpec{
		{name: "get", client: "tradecache", target: "avg < 1 ms, p99 < 5 ms, > 1,000 ops/s per connection", clients: 1,
			meets: func(r benchResult) bool { return getTarget(r) && r.OpsPerSec > 1000 }, op: get},
		{name: "get", client: "tradecache", target: "avg < 1 ms, p99 < 5 ms at 50 clients", clients: 50, meets: getTarget, op: get},
		{name: "set", client: "tradecache", target: "avg < 2 ms, p99 < 10 ms", clients: 1, meets: setTarget, op: set},
		{name: "set", client: "tradecache", target: "avg < 2 ms, p99 < 10 ms at 50 clients", clients: 50, meets: setTarget, op: set},
	}
	for _, n := range []int{10, 100, 1000} {
		phases = append(phases, phaseSpec{name: fmt.Sprintf("get_many(%d)", n), client: "tradecache", target: "< 0.1 ms per key, > 10,000 keys/s",
			clients: 1, batch: n,
			meets: func(r benchResult) bool { return r.PerKey < 100*time.Microsecond && r.KeysPerSec > 10000 },
			op: func(ctx context.Context, i int) error {
				out := make(map[string]benchQuote, n)
				_, err := ns.GetMany(ctx, keys[:n], &out)
				return err
			}})
	}
	return phases
}

// nearPhases are the same reads through a near tier, on a Cache of their
// own so that the phases above run as configured; closeNear closes it.
func nearPhases(ctx context.Context, cfg tradecache.Config, keys []string) (phases []phaseSpec, closeNear func(), err error) {
	ncfg := cfg
	ncfg.Namespaces = maps.Clone(cfg.Namespaces)
	if ncfg.Namespaces == nil {
		ncfg.Namespaces = map[string]tradecache.NamespaceConfig{}
	}
	pol := ncfg.Namespaces["bench"]
	pol.Near = &tradecache.NearConfig{}
	ncfg.Namespaces["bench"] = pol
	nc, err := openBenchCache(ctx, ncfg)
	if err != nil {
		return nil, nil, err
	}
	near := nc.Namespace("bench")
	getNear := func(ctx context.Context, i int) error {
		_, _, err := tradecache.GetNear[benchQuote](ctx, near, keys[i%1000])
		return err
	}
	return []phaseSpec{
		{name: "get_near", client: "tradecache", clients: 1, op: getNear},
		{name: "get_near", client: "tradecache", clients: 50, op: getNear},
		{name: "get_many_near(100)", client: "tradecache", clients: 1, batch: 100, op: func(ctx context.Context, i int) error {
			_, err := tradecache.GetManyNear[benchQuote](ctx, near, keys[:100])
			return err
		}},
	}, func() { nc.Close() }, nil
}

// rawPhases are the raw rueidis client's reads of the same keys, for the
// ratios; its client closes with the last phase's close.
func rawPhases(c *tradecache.Cache, cfg tradecache.Config) ([]phaseSpec, error) {
	opt, err := rawOption(cfg)
	var raw rueidis.Client
	if err == nil {
		raw, err = rueidis.NewClient(opt)
	}
	if err != nil {
		return nil, fmt.Errorf("raw rueidis client: %w", err)
	}
	rawKey := func(i int) string { return fmt.Sprintf("%s:bench:k%d", c.Config().KeyPrefix, i%1000) }
	rawGet := func(ctx context.Context, i int) error {
		return raw.Do(ctx, raw.B().Get().Key(rawKey(i)).Build()).Error()
	}
	return []phaseSpec{
		{name: "get", client: "raw-rueidis", clients: 1, op: rawGet},
		{name: "get", client: "raw-rueidis", clients: 50, op: rawGet},
		{name: "get_many(100)", client: "raw-rueidis", clients: 1, batch: 100, op: func(ctx context.Context, i int) error {
			rk := make([]string, 100)
			for j := range rk {
				rk[j] = rawKey(j)
			}
			if raw.Mode() == rueidis.ClientModeCluster {
				_, err := rueidis.MGet(raw, ctx, rk) // one MGET per slot, as the cache does
				return err
			}
			return raw.Do(ctx, raw.B().Mget().Key(rk...).Build()).Error()
		}, close: raw.Close},
	}, nil
}

// runPhases runs every phase once per round, the rounds one after the
// other: a slow spell of the machine then touches every phase of a round,
// and each ratio is taken between runs of the same round. Each phase's
// figure is its median run's.
func runPhases(ctx context.Context, phases []phaseSpec, phase time.Duration, repeat int, stderr io.Writer) benchReport {
	for _, p := range phases {
		if p.close != nil {
			defer p.close()
		}
	}
	report := benchReport{Phase: phase, Repeat: repeat}
	tty := isTerminal(stderr)
	runs := make([][]benchResult, len(phases))
	for round := range repeat {
		for i, p := range phases {
			label := fmt.Sprintf("%s %s ×%d (%d/%d)", p.client, p.name, p.clients, round+1, repeat)
			r := measure(ctx, phase, p.clients, p.op, func(frac float64) {
				if tty {
					progress(stderr, round*len(phases)+i, repeat*len(phases), frac, label)
				}
			})
			runs[i] = append(runs[i], r)
		}
	}
	for i, p := range phases {
		r := medianRun(runs[i])
		r.Name, r.Client, r.Clients, r.Batch, r.Target = p.name, p.client, p.clients, p.batch, p.target
		if p.batch > 0 {
			r.PerKey = r.Avg / time.Duration(p.batch)
			r.KeysPerSec = r.OpsPerSec * float64(p.batch)
		}
		if p.meets != nil {
			r.Met = p.meets(r)
		}
		report.Results = append(report.Results, r)
	}
	ratios(report.Results, runs)
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	return report
}

// medianRun returns the run with the median ops/s, with every run's ops/s.
func medianRun(rs []benchResult) benchResult {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b benchResult) int { return cmp.Compare(a.OpsPerSec, b.OpsPerSec) })
	m := sorted[len(sorted)/2]
	for _, r := range rs {
		m.Runs = append(m.Runs, r.OpsPerSec)
	}
	return m
}

// ratios sets each tradecache phase's ratio to the raw client's phase of
// the same name and clients, round by round.
func ratios(results []benchResult, runs [][]benchResult) {
	for i := range results {
		x := &results[i]
		if x.Client != "tradecache" {
			continue
		}
		for j, y := range results {
			if y.Client != "raw-rueidis" || y.Name != x.Name || y.Clients != x.Clients {
				continue
			}
			var rs []float64
			for k := range runs[i] {
				if raw := runs[j][k].OpsPerSec; raw > 0 {
					rs = append(rs, runs[i][k].OpsPerSec/raw)
				}
			}
			if len(rs) == 0 {
				continue
			}
			slices.Sort(rs)
			x.RatioToRaw, x.RatioMin, x.RatioMax = rs[len(rs)/2], rs[0], rs[len(rs)-1]
			x.Noisy = x.RatioMin < 1 && x.RatioMax > 1
		}
	}
}

// rawOption builds a plain rueidis client like the cache's, for the ratio.
func rawOption(cfg tradecache.Config) (rueidis.ClientOption, error) {
	if cfg.Redis.URL != "" {
		opt, err := rueidis.ParseURL(cfg.Redis.URL)
		opt.DisableCache = true
		return opt, err
	}
	port := cfg.Redis.Port
	if port == 0 {
		port = 6379
	}
	opt := rueidis.ClientOption{InitAddress: []string{fmt.Sprintf("%s:%d", cfg.Redis.Host, port)}, Username: cfg.Redis.Username,
		Password: cfg.Redis.Password, SelectDB: cfg.Redis.DB, DisableCache: true}
	switch {
	case len(cfg.Redis.ClusterAddrs) > 0:
		opt.InitAddress = cfg.Redis.ClusterAddrs
	case len(cfg.Redis.SentinelAddrs) > 0:
		opt.InitAddress = cfg.Redis.SentinelAddrs
		opt.Sentinel = rueidis.SentinelOption{MasterSet: cfg.Redis.SentinelMaster, Username: cfg.Redis.SentinelUsername, Password: cfg.Redis.SentinelPassword}
	}
	return opt, nil
}

// measure runs op on clients goroutines for d and summarizes the calls.
func measure(ctx context.Context, d time.Duration, clients int, op func(context.Context, int) error, tick func(float64)) benchResult {
	var h hist.Histogram
	var errs atomic.Uint64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for g := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; time.Now().Before(deadline) && ctx.Err() == nil; i += clients {
				t0 := time.Now()
				if err := op(ctx, i); err != nil {
					errs.Add(1)
					continue
				}
				h.Record(time.Since(t0))
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-t.C:
			tick(math.Min(1, float64(time.Since(start))/float64(d)))
		}
	}
	elapsed := time.Since(start)
	r := benchResult{Ops: h.Count(), OpsPerSec: float64(h.Count()) / elapsed.Seconds(), Avg: h.Mean(),
		P50: h.Quantile(0.5), P99: h.Quantile(0.99), Max: h.Max()}
	var prev uint64
	for _, e := range bandEdges {
		n := h.CountAtMost(e)
		share := 0.0
		if h.Count() > 0 {
			share = float64(n-prev) / float64(h.Count())
		}
		r.Distribution = append(r.Distribution, band{UpTo: e, Share: share})
		prev = n
	}
	return r
}

// isTerminal reports whether w is a terminal: the progress bar is drawn
// only there, never into a log file or a pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress draws a one-line progress bar on w.
func progress(w io.Writer, phase, phases int, frac float64, label string) {
	total := (float64(phase) + frac) / float64(phases)
	const width = 30
	filled := int(total * width)
	fmt.Fprintf(w, "\r\033[K[%s%s] %3.0f%%  %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), 100*total, label)
}

func printReport(w io.Writer, r benchReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "backend: %s, %d interleaved runs of %v per phase; figures of the median run\n\n", r.Backend, r.Repeat, r.Phase)
	fmt.Fprintln(tw, "client\tphase\tclients\tops/s\tavg\tp50\tp99\tmax\tper key\tkeys/s\ttarget\t")
	for _, x := range r.Results {
		perKey, keysPerSec, met := "", "", ""
		if x.Batch > 0 {
			perKey, keysPerSec = round(x.PerKey).String(), fmt.Sprintf("%.0f", x.KeysPerSec)
		}
		if x.Target != "" {
			met = "met: " + x.Target
			if !x.Met {
				met = "MISSED: " + x.Target
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%v\t%v\t%v\t%v\t%s\t%s\t%s\t\n", x.Client, x.Name, x.Clients, x.OpsPerSec,
			round(x.Avg), round(x.P50), round(x.P99), round(x.Max), perKey, keysPerSec, met)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, x := range r.Results {
		if x.RatioToRaw == 0 {
			continue
		}
		noisy := ""
		if x.Noisy {
			noisy = "  noisy: the runs disagree on which is faster"
		}
		fmt.Fprintf(w, "ratio %s ×%d: tradecache / raw rueidis = %.2f (runs %.2f–%.2f)%s\n", x.Name, x.Clients, x.RatioToRaw, x.RatioMin, x.RatioMax, noisy)
	}
	return nil
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":   func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
	"width": func(f float64) string { return fmt.Sprintf("%.1f", 300*f) },
	"y":     func(i int) int { return 20 + 18*i },
	"dur":   func(d time.Duration) string { return d.Round(100 * time.Nanosecond).String() },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>tradecache bench</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin-bottom:24px}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}.miss{color:#b00}.met{color:#070}
.chart{display:inline-block;margin:0 24px 24px 0;vertical-align:top}
.chart h3{font-size:13px;margin:0 0 4px}svg text{font-size:11px}
</style></head><body>
<h1>tradecache bench</h1>
<p>Backend: <b>{{.Backend}}</b>, {{dur .Phase}} per phase. Each row: all calls of one phase; raw rueidis measured in the same run.</p>
<table><tr><th>client</th><th>phase</th><th>clients</th><th>ops/s</th><th>avg</th><th>p50</th><th>p99</th><th>per key</th><th>target</th></tr>
{{range .Results}}<tr><td>{{.Client}}</td><td>{{.Name}}</td><td>{{.Clients}}</td><td>{{printf "%.0f" .OpsPerSec}}</td><td>{{dur .Avg}}</td><td>{{dur .P50}}</td><td>{{dur .P99}}</td><td>{{if .Batch}}{{dur .PerKey}}{{end}}</td>
<td class="{{if .Met}}met{{else}}miss{{end}}">{{if .Target}}{{if .Met}}met{{else}}missed{{end}}: {{.Target}}{{end}}</td></tr>
{{end}}</table>
<h2>Latency distribution</h2>
{{range .Results}}<div class="chart"><h3>{{.Client}} {{.Name}} ×{{.Clients}}</h3>
<svg width="430" height="{{y (len .Distribution)}}" role="img" aria-label="latency distribution">
{{range $i, $b := .Distribution}}<text x="0" y="{{y $i}}" dy="-4">≤ {{dur $b.UpTo}}</text>
<rect x="80" y="{{y $i}}" transform="translate(0,-15)" width="{{width $b.Share}}" height="13" fill="#3b7dd8"></rect>
<text x="390" y="{{y $i}}" dy="-4">{{pct $b.Share}}</text>
{{end}}</svg></div>
{{end}}
</body></html>
`))

func writeHTML(path string, r benchReport) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := reportTemplate.Execute(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
