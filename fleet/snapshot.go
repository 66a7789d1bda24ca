// Package fleet is the published live figures of tradecache instances: the
// snapshot each Cache writes to the store every StatsInterval
// (Config.PublishStats), its format and bounds, and their merge across
// every live instance, which Cache.FleetStats returns and `tradecache
// stats` and `top` show.
//
// The snapshot is JSON, format StatsFormat. A reader treats it as
// untrusted input: Parse refuses one that is too large, of another
// format, or inconsistent, rather than merge it.
package fleet

import (
	"time"

	"github.com/tradecache/tradecache/internal/hist"
)

// StatsFormat is the version of the published snapshot's layout. A reader
// refuses snapshots of another format rather than misread them.
const StatsFormat = 1

// Bounds of the published figures, kept by the writer and checked by the
// reader.
const (
	// MaxStatsBytes bounds one instance's snapshot.
	MaxStatsBytes = 1 << 20
	// MaxInstances bounds how many instances a fleet is read from.
	MaxInstances = 1000
	// HotKeysPublished is how many hot keys an instance publishes.
	HotKeysPublished = 10
	// MaxKeyBytes bounds a hot key as published.
	MaxKeyBytes = 256
	// MinInterval and MaxInterval bound StatsInterval; a snapshot claiming
	// another is refused.
	MinInterval = time.Second
	MaxInterval = time.Hour
)

// Histogram is a latency histogram as published: its non-empty buckets
// (within 1% of the true values), which merge exactly across instances.
// A histogram read from another instance is untrusted until Parse has
// checked it.
type Histogram struct {
	Buckets [][2]uint64 `json:"b"`      // [bucket index, count], ascending by index, counts > 0
	Count   uint64      `json:"n"`      // the sum of the counts
	Sum     int64       `json:"sum_ns"` // the sum of the samples
	Max     int64       `json:"max_ns"` // the largest sample
}

// Quantile returns the q-quantile (0 < q <= 1) of the samples.
func (h Histogram) Quantile(q float64) time.Duration { return hist.Sparse(h).Quantile(q) }

// Mean returns the average sample, or 0.
func (h Histogram) Mean() time.Duration { return hist.Sparse(h).Mean() }

// Merge adds o's samples to h.
func (h *Histogram) Merge(o Histogram) { (*hist.Sparse)(h).Merge(hist.Sparse(o)) }

// Since is what h recorded after earlier, an earlier read of it.
func (h Histogram) Since(earlier Histogram) Histogram {
	return Histogram(hist.Sparse(h).Since(hist.Sparse(earlier)))
}

func (h Histogram) check() error { return hist.Sparse(h).Check() }

// Counts are a namespace's, or a window's, operations by outcome.
type Counts struct {
	Hits    uint64 `json:"hits"`
	Misses  uint64 `json:"misses"`
	Sets    uint64 `json:"sets"`
	Deletes uint64 `json:"deletes"`
	Errors  uint64 `json:"errors"`
}

// HitRate is Hits / (Hits + Misses), or 0 before any read.
func (c Counts) HitRate() float64 { return ratio(c.Hits, c.Hits+c.Misses) }

// Sum is every counted operation.
func (c Counts) Sum() uint64 { return c.Hits + c.Misses + c.Sets + c.Deletes + c.Errors }

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Window is what happened over a span of time: counts, latencies per
// operation and per namespace, and the rate of operations.
type Window struct {
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
	Counts
	// Ops holds each kind of operation's latency (get, set, ...).
	Ops map[string]Histogram `json:"ops,omitempty"`
	// Namespaces holds each namespace's counts and store-call latency.
	Namespaces map[string]NamespaceWindow `json:"namespaces,omitempty"`
}

// NamespaceWindow is one namespace's part of a Window.
type NamespaceWindow struct {
	Counts
	OpsPerSec float64   `json:"ops_per_sec"`
	Latency   Histogram `json:"latency"`
}

// Streams are an instance's stream figures since it started.
type Streams struct {
	Published    uint64        `json:"published"`
	Refused      uint64        `json:"refused"`
	Read         uint64        `json:"read"`
	Acked        uint64        `json:"acked"`
	Claimed      uint64        `json:"claimed"`
	DeadLettered uint64        `json:"dead_lettered"`
	LagP50       time.Duration `json:"lag_p50_ns"`
	LagP99       time.Duration `json:"lag_p99_ns"`
}

// Invalidations is an instance's durable invalidation queue: what waits
// for the store now, and what became of what waited.
type Invalidations struct {
	Queued    int           `json:"queued"`
	Enqueued  uint64        `json:"enqueued"`
	Applied   uint64        `json:"applied"`
	Dropped   uint64        `json:"dropped"`
	OldestAge time.Duration `json:"oldest_age"`
}

// HotKey is a key read often in the last interval: the caller's key, in
// its namespace. Reads is estimated from a sample, and over-estimated by
// at most Error.
type HotKey struct {
	Namespace   string  `json:"namespace"`
	Key         string  `json:"key"`
	Reads       uint64  `json:"reads"`
	Error       uint64  `json:"error"`
	ReadsPerSec float64 `json:"reads_per_sec"`
}

// InstanceStats is one instance's published snapshot.
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
	// Stopped marks the snapshot a closing Cache writes: the instance's last.
	Stopped bool `json:"stopped,omitempty"`
	// Seen is how long ago the instance last announced itself, by the
	// store's clock. The reader fills it in; it is not published.
	Seen time.Duration `json:"-"`

	Breaker       string `json:"breaker"`
	BreakerOpened uint64 `json:"breaker_opened"`
	NearHits      uint64 `json:"near_hits"`
	NearMisses    uint64 `json:"near_misses"`
	NearEntries   int    `json:"near_entries"`
	NearBytes     int64  `json:"near_bytes"`

	// Total counts since the instance started; Recent, over the last
	// interval.
	Total  Window `json:"total"`
	Recent Window `json:"recent"`
	// Streams are the stream figures since it started (its lag
	// percentiles are its own: the merge does not merge them).
	Streams       Streams       `json:"streams"`
	Invalidations Invalidations `json:"invalidations"`
	// HotKeys are the most-read keys of the last interval, from a sample
	// of the reads that went to the store (near hits are not counted:
	// they cost Redis nothing).
	HotKeys []HotKey `json:"hot_keys,omitempty"`
}

// The states of a published instance (InstanceStats.State).
const (
	Running = "running" // it announced itself within two intervals (and silentSlack)
	Stopped = "stopped" // it was closed; this is its last snapshot
	Silent  = "silent"  // not for longer: killed, hung or cut off
)

// silentSlack is added to two intervals before an instance counts as
// silent: a publish may take up to a second.
const silentSlack = 2 * time.Second

// State says whether the instance is running, stopped or silent. Silence
// is judged by Seen, which the store's clock alone measures: no host's
// clock, the writer's or the reader's, can make a running instance look
// silent, or a silent one running.
func (st InstanceStats) State() string {
	switch {
	case st.Stopped:
		return Stopped
	case st.Seen > 2*st.Interval+silentSlack:
		return Silent
	}
	return Running
}

// AnnouncedFor is how long an instance publishing every interval
// announces itself for, and its snapshot lives.
func AnnouncedFor(interval time.Duration) time.Duration { return 3 * interval }
