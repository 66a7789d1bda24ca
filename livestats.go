package tradecache

import (
	"context"
	"encoding/json"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tradecache/tradecache/internal/hist"
	"github.com/tradecache/tradecache/internal/hotkeys"
)

// Live stats: every Cache with PublishStats on writes a compact snapshot
// of its figures to the store every StatsInterval, under
// "<prefix>:#stats:<instance>" with a TTL of three intervals, and
// announces itself in the roster "<prefix>:#stats" (a sorted set scored by
// expiry on the server's clock). `tradecache stats` and `tradecache top`
// read the roster and the snapshots, and merge them (FleetStats). '#'
// cannot appear in a namespace name, so no namespace's keys collide with
// these. An instance that stops disappears within three intervals.
//
// Until then, a reader must not take its last figures for current ones:
// the snapshot Close writes says Stopped, and one that has not been
// renewed for more than two intervals is of an instance gone silent
// (killed, hung, or cut off from Redis). FleetStats counts both in the
// totals since start, where their work belongs, and leaves them out of
// the last interval's rates and hot keys, which say what is happening now.

// StatsFormat is the version of the published snapshot's layout. A reader
// refuses snapshots of another format rather than misread them.
const StatsFormat = 1

// Bounds of the published figures, kept by the writer and checked by the
// reader, which treats what it reads as untrusted.
const (
	// MaxStatsBytes bounds one instance's snapshot.
	MaxStatsBytes = 1 << 20
	// MaxFleetInstances bounds how many instances FleetStats reads.
	MaxFleetInstances = 1000
	// HotKeysPublished is how many hot keys an instance publishes.
	HotKeysPublished = 10
	// hotKeysHeld is the sketch's capacity: Space-Saving finds every key
	// read more than 1/hotKeysHeld of the time.
	hotKeysHeld = 64
	// hotKeySampling: one store read in this many is counted for the hot
	// keys, which keeps the hot path's cost to a random draw.
	hotKeySampling = 16
	// maxPublishedKey bounds a hot key as published.
	maxPublishedKey = 256
	// StatsInterval's range; a snapshot claiming another is refused.
	minStatsInterval = time.Second
	maxStatsInterval = time.Hour
)

// SparseHistogram is a latency histogram as published: its non-empty
// buckets (within 1% of the true values), which merge exactly across
// instances. Quantile, Mean and Merge work on it. A histogram read from
// another instance is untrusted until FleetStats has checked it.
type SparseHistogram struct {
	Buckets [][2]uint64 `json:"b"`      // [bucket index, count], ascending by index, counts > 0
	Count   uint64      `json:"n"`      // the sum of the counts
	Sum     int64       `json:"sum_ns"` // the sum of the samples
	Max     int64       `json:"max_ns"` // the largest sample
}

// Quantile returns the q-quantile (0 < q <= 1) of the samples.
func (s SparseHistogram) Quantile(q float64) time.Duration { return hist.Sparse(s).Quantile(q) }

// Mean returns the average sample, or 0.
func (s SparseHistogram) Mean() time.Duration { return hist.Sparse(s).Mean() }

// Merge adds o's samples to s.
func (s *SparseHistogram) Merge(o SparseHistogram) { (*hist.Sparse)(s).Merge(hist.Sparse(o)) }

// since is what s recorded after earlier, an earlier read of it.
func (s SparseHistogram) since(earlier SparseHistogram) SparseHistogram {
	return SparseHistogram(hist.Sparse(s).Since(hist.Sparse(earlier)))
}

// check reports a histogram that cannot be what an instance recorded.
func (s SparseHistogram) check() error { return hist.Sparse(s).Check() }

// InstanceStats is one Cache's published snapshot.
type InstanceStats struct {
	Format   int           `json:"format"`
	Instance string        `json:"instance"`
	Host     string        `json:"host"`
	PID      int           `json:"pid"`
	Version  string        `json:"version"` // of the tradecache module in the binary
	Backend  string        `json:"backend"`
	Topology string        `json:"topology,omitempty"`
	Started  time.Time     `json:"started"`
	At       time.Time     `json:"at"` // when the snapshot was taken
	Interval time.Duration `json:"interval_ns"`
	// Stopped marks the snapshot Close writes: the instance's last.
	Stopped bool `json:"stopped,omitempty"`
	// Seen is how long ago the instance last announced itself, by the
	// store's clock. FleetStats fills it in; it is not published.
	Seen time.Duration `json:"-"`

	Breaker       string `json:"breaker"`
	BreakerOpened uint64 `json:"breaker_opened"`
	NearHits      uint64 `json:"near_hits"`
	NearMisses    uint64 `json:"near_misses"`
	NearEntries   int    `json:"near_entries"`
	NearBytes     int64  `json:"near_bytes"`

	// Total counts since the Cache was made; Recent, over the last
	// interval.
	Total  Window `json:"total"`
	Recent Window `json:"recent"`
	// Streams are the stream figures since the Cache was made (its lag
	// percentiles are this instance's own: Fleet does not merge them).
	Streams StreamStats `json:"streams"`
	// Invalidations is the instance's durable invalidation queue: what
	// waits for the store, and what became of what waited.
	Invalidations InvalidationStats `json:"invalidations"`
	// HotKeys are the most-read keys of the last interval, from a sample
	// of the reads that went to the store (near hits are not counted:
	// they cost Redis nothing).
	HotKeys []HotKey `json:"hot_keys,omitempty"`
}

// Window is what happened over a span of time: counts, latencies per
// operation and per namespace, and the rate of operations.
type Window struct {
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
	Hits      uint64  `json:"hits"`
	Misses    uint64  `json:"misses"`
	Sets      uint64  `json:"sets"`
	Deletes   uint64  `json:"deletes"`
	Errors    uint64  `json:"errors"`
	// Ops holds each kind of operation's latency (get, set, ...).
	Ops map[string]SparseHistogram `json:"ops,omitempty"`
	// Namespaces holds each namespace's counts and store-call latency.
	Namespaces map[string]NamespaceWindow `json:"namespaces,omitempty"`
}

// NamespaceWindow is one namespace's part of a Window.
type NamespaceWindow struct {
	NamespaceStats
	OpsPerSec float64         `json:"ops_per_sec"`
	Latency   SparseHistogram `json:"latency"`
}

// HitRate is Hits / (Hits + Misses), or 0 before any read.
func (w Window) HitRate() float64 { return ratio(w.Hits, w.Hits+w.Misses) }

// ops is every counted operation.
func (s NamespaceStats) ops() uint64 { return s.Hits + s.Misses + s.Sets + s.Deletes + s.Errors }

// HotKey is a key read often in the last interval. Key is the caller's
// key; KeyHash(Key) is how `tradecache top` shows it unless asked for
// keys. Reads is estimated from a sample, and over-estimated by at most
// Error.
type HotKey struct {
	Namespace   string  `json:"namespace"`
	Key         string  `json:"key"`
	Reads       uint64  `json:"reads"`
	Error       uint64  `json:"error"`
	ReadsPerSec float64 `json:"reads_per_sec"`
}

// statsPublisher writes the Cache's snapshot every interval, and a last
// one on Close, so that a short-lived process is seen too.
type statsPublisher struct {
	c       *Cache
	started time.Time
	host    string
	pid     int
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once

	mu     sync.Mutex // serializes publish; guards what follows
	prev   Window     // Total at the last publish
	prevAt time.Time
	// last is the last snapshot published by the ticker, whose Recent
	// window and hot keys the final snapshot (on Close) keeps: a window cut
	// short by Close would show a near-idle instance.
	last *InstanceStats
}

func (p *statsPublisher) start(c *Cache) {
	p.c, p.started, p.prevAt, p.pid, p.done = c, time.Now(), time.Now(), os.Getpid(), make(chan struct{})
	p.host, _ = os.Hostname()
	c.hot = hotkeys.New(hotKeysHeld, hotKeySampling)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(c.cfg.StatsInterval)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.publishBounded(false)
			}
		}
	}()
}

// stop ends the loop and publishes once more.
func (p *statsPublisher) stop() {
	p.once.Do(func() {
		if p.done == nil {
			return
		}
		close(p.done)
		p.wg.Wait()
		p.publishBounded(true)
	})
}

// publishBounded publishes within one second: the figures are worth less
// than the calls they would hold up. A failure is logged, rate-limited.
func (p *statsPublisher) publishBounded(final bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.publish(ctx, final); err != nil {
		p.c.obs.warnLimited("tradecache: publishing stats failed", "error", err)
	}
}

// publish writes the snapshot. The final one keeps the last full
// interval's Recent window and hot keys, when there was one.
func (p *statsPublisher) publish(ctx context.Context, final bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	st := p.c.instanceStats(p, now)
	if final && p.last != nil {
		st.Recent, st.HotKeys = p.last.Recent, p.last.HotKeys
	} else {
		p.last = &st
	}
	st.Stopped = final
	p.prev, p.prevAt = st.Total, now
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if len(b) > MaxStatsBytes {
		return &ArgumentError{Op: "publish_stats", Err: ErrTooLarge}
	}
	ttl := announcedFor(p.c.cfg.StatsInterval)
	prefix := p.c.cfg.KeyPrefix
	return p.c.publishStats(ctx, statsRoster(prefix), st.Instance, statsKey(prefix, st.Instance), b, ttl)
}

func statsRoster(prefix string) string        { return prefix + ":#stats" }
func statsKey(prefix, instance string) string { return statsRoster(prefix) + ":" + instance }
func statsKeyFunc(prefix string) func(string) string {
	return func(m string) string { return statsKey(prefix, m) }
}

// instanceStats takes the snapshot; p holds the previous one's totals.
func (c *Cache) instanceStats(p *statsPublisher, now time.Time) InstanceStats {
	local := c.counters()
	st := InstanceStats{
		Format: StatsFormat, Instance: c.cfg.InstanceName, Host: p.host, PID: p.pid, Version: moduleVersion(),
		Backend: c.kind, Topology: c.topology, Started: p.started.UTC(), At: now.UTC(), Interval: c.cfg.StatsInterval,
		Breaker: local.Breaker, BreakerOpened: local.BreakerTransitions.Opened,
		NearHits: local.NearHits, NearMisses: local.NearMisses, NearEntries: local.NearEntries, NearBytes: local.NearBytes,
		Streams: local.Streams, Invalidations: local.Invalidations,
	}
	st.Total = Window{Hits: local.Hits, Misses: local.Misses, Sets: local.Sets, Deletes: local.Deletes, Errors: local.Errors,
		Ops: map[string]SparseHistogram{}, Namespaces: map[string]NamespaceWindow{}}
	if m := c.obs.rec; m != nil {
		for i := range numOps {
			if h := m.lat[i].Sparse(); h.Count > 0 {
				st.Total.Ops[opNames[i]] = SparseHistogram(h)
			}
		}
	}
	c.namespaces.Range(func(k, v any) bool {
		n := v.(*Namespace)
		w := NamespaceWindow{NamespaceStats: NamespaceStats{n.counts.hits.Load(), n.counts.misses.Load(), n.counts.sets.Load(), n.counts.deletes.Load(), n.counts.errors.Load()}}
		if h := n.counts.lat.Load(); h != nil {
			w.Latency = SparseHistogram(h.Sparse())
		}
		if w.ops() > 0 {
			st.Total.Namespaces[k.(string)] = w
		}
		return true
	})
	st.Total.setRates(now.Sub(p.started))
	st.Recent = st.Total.since(p.prev)
	st.Recent.setRates(now.Sub(p.prevAt))
	if c.hot != nil {
		secs := max(now.Sub(p.prevAt).Seconds(), 1e-3)
		for _, k := range c.hot.Take(HotKeysPublished) {
			ns, key, _ := strings.Cut(k.Key, ":")
			if len(key) > maxPublishedKey {
				key = key[:maxPublishedKey]
			}
			st.HotKeys = append(st.HotKeys, HotKey{Namespace: ns, Key: key, Reads: k.Count, Error: k.Error, ReadsPerSec: float64(k.Count) / secs})
		}
	}
	return st
}

// setRates sets the window's length and rates from d.
func (w *Window) setRates(d time.Duration) {
	w.Seconds = max(d.Seconds(), 1e-3)
	w.OpsPerSec = float64(w.Hits+w.Misses+w.Sets+w.Deletes+w.Errors) / w.Seconds
	for name, n := range w.Namespaces {
		n.OpsPerSec = float64(n.ops()) / w.Seconds
		w.Namespaces[name] = n
	}
}

// since returns what w counted that earlier (a Total of the same Cache)
// had not.
func (w Window) since(earlier Window) Window {
	d := Window{Hits: sub(w.Hits, earlier.Hits), Misses: sub(w.Misses, earlier.Misses), Sets: sub(w.Sets, earlier.Sets),
		Deletes: sub(w.Deletes, earlier.Deletes), Errors: sub(w.Errors, earlier.Errors),
		Ops: map[string]SparseHistogram{}, Namespaces: map[string]NamespaceWindow{}}
	for op, h := range w.Ops {
		if r := h.since(earlier.Ops[op]); r.Count > 0 {
			d.Ops[op] = r
		}
	}
	for name, n := range w.Namespaces {
		e := earlier.Namespaces[name]
		r := NamespaceWindow{NamespaceStats: NamespaceStats{sub(n.Hits, e.Hits), sub(n.Misses, e.Misses), sub(n.Sets, e.Sets), sub(n.Deletes, e.Deletes), sub(n.Errors, e.Errors)},
			Latency: n.Latency.since(e.Latency)}
		if r.ops() > 0 {
			d.Namespaces[name] = r
		}
	}
	return d
}

func sub(a, b uint64) uint64 { return a - min(a, b) }

// defaultInstanceName is the host name and the process id, cut to the
// name grammar: "ip-10-0-0-7-4711".
func defaultInstanceName() string {
	host, _ := os.Hostname()
	var b strings.Builder
	for _, r := range host {
		if r < 0x80 && checkName(string(r)) == "" {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	pid := "-" + strconv.Itoa(os.Getpid())
	name := b.String()
	if name == "" {
		name = "tradecache"
	}
	if len(name)+len(pid) > maxNameLength {
		name = name[:maxNameLength-len(pid)]
	}
	return name + pid
}

// moduleVersion is the tradecache module's version in this binary:
// "(devel)" in its own repository, a tag or pseudo-version elsewhere.
var moduleVersion = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	const path = "github.com/tradecache/tradecache"
	if bi.Main.Path == path {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return "unknown"
})
