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

	"github.com/tradecache/tradecache/fleet"
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

// Bounds of the publisher's own (fleet holds the published format's).
const (
	// hotKeysHeld is the sketch's capacity: Space-Saving finds every key
	// read more than 1/hotKeysHeld of the time.
	hotKeysHeld = 64
	// hotKeySampling: one store read in this many is counted for the hot
	// keys, which keeps the hot path's cost to a random draw.
	hotKeySampling = 16
	// StatsInterval's range: what a reader accepts.
	minStatsInterval = fleet.MinInterval
	maxStatsInterval = fleet.MaxInterval
)

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

	mu     sync.Mutex   // serializes publish; guards what follows
	prev   fleet.Window // Total at the last publish
	prevAt time.Time
	// last is the last snapshot published by the ticker, whose Recent
	// window and hot keys the final snapshot (on Close) keeps: a window cut
	// short by Close would show a near-idle instance.
	last *fleet.InstanceStats
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
	if len(b) > fleet.MaxStatsBytes {
		return &ArgumentError{Op: "publish_stats", Err: ErrTooLarge}
	}
	ttl := fleet.AnnouncedFor(p.c.cfg.StatsInterval)
	prefix := p.c.cfg.KeyPrefix
	return p.c.publishStats(ctx, statsRoster(prefix), st.Instance, statsKey(prefix, st.Instance), b, ttl)
}

func statsRoster(prefix string) string        { return prefix + ":#stats" }
func statsKey(prefix, instance string) string { return statsRoster(prefix) + ":" + instance }
func statsKeyFunc(prefix string) func(string) string {
	return func(m string) string { return statsKey(prefix, m) }
}

// instanceStats takes the snapshot; p holds the previous one's totals.
func (c *Cache) instanceStats(p *statsPublisher, now time.Time) fleet.InstanceStats {
	local := c.counters()
	ss, inv := local.Streams, local.Invalidations
	st := fleet.InstanceStats{
		Format: fleet.StatsFormat, Instance: c.cfg.InstanceName, Host: p.host, PID: p.pid, Version: moduleVersion(),
		Backend: c.kind, Topology: c.topology, Started: p.started.UTC(), At: now.UTC(), Interval: c.cfg.StatsInterval,
		Breaker: local.Breaker, BreakerOpened: local.BreakerTransitions.Opened,
		NearHits: local.NearHits, NearMisses: local.NearMisses, NearEntries: local.NearEntries, NearBytes: local.NearBytes,
		Streams: fleet.Streams{Published: ss.Published, Refused: ss.Refused, Read: ss.Read, Acked: ss.Acked, Claimed: ss.Claimed,
			DeadLettered: ss.DeadLettered, LagP50: ss.LagP50, LagP99: ss.LagP99},
		Invalidations: fleet.Invalidations{Queued: inv.Queued, Enqueued: inv.Enqueued, Applied: inv.Applied, Dropped: inv.Dropped, OldestAge: inv.OldestAge},
	}
	st.Total = fleet.Window{Counts: fleet.Counts{Hits: local.Hits, Misses: local.Misses, Sets: local.Sets, Deletes: local.Deletes, Errors: local.Errors},
		Ops: map[string]fleet.Histogram{}, Namespaces: map[string]fleet.NamespaceWindow{}}
	if m := c.obs.rec; m != nil {
		for i := range numOps {
			if h := m.lat[i].Sparse(); h.Count > 0 {
				st.Total.Ops[opNames[i]] = fleet.Histogram(h)
			}
		}
	}
	c.namespaces.Range(func(k, v any) bool {
		n := v.(*Namespace)
		w := fleet.NamespaceWindow{Counts: fleet.Counts{Hits: n.counts.hits.Load(), Misses: n.counts.misses.Load(), Sets: n.counts.sets.Load(),
			Deletes: n.counts.deletes.Load(), Errors: n.counts.errors.Load()}}
		if h := n.counts.lat.Load(); h != nil {
			w.Latency = fleet.Histogram(h.Sparse())
		}
		if w.Counts.Sum() > 0 {
			st.Total.Namespaces[k.(string)] = w
		}
		return true
	})
	st.Total.SetRates(now.Sub(p.started))
	st.Recent = st.Total.Since(p.prev)
	st.Recent.SetRates(now.Sub(p.prevAt))
	if c.hot != nil {
		secs := max(now.Sub(p.prevAt).Seconds(), 1e-3)
		for _, k := range c.hot.Take(fleet.HotKeysPublished) {
			ns, key, _ := strings.Cut(k.Key, ":")
			if len(key) > fleet.MaxKeyBytes {
				key = key[:fleet.MaxKeyBytes]
			}
			st.HotKeys = append(st.HotKeys, fleet.HotKey{Namespace: ns, Key: key, Reads: k.Count, Error: k.Error, ReadsPerSec: float64(k.Count) / secs})
		}
	}
	return st
}

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
