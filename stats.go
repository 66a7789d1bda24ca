package tradecache

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/tradecache/tradecache/store/guard"
)

// Stats are the Cache's counters since New. Their JSON form is snake_case
// with units in the names (durations in nanoseconds, *_ns).
type Stats struct {
	Backend  string `json:"backend"`
	Topology string `json:"topology,omitempty"` // standalone, sentinel or cluster, for Redis
	// Hits counts reads that found a value, through any API, whether the
	// near tier or the store served it (NearHits is the near tier's part);
	// Misses those that found none.
	Hits    uint64 `json:"hits"`
	Misses  uint64 `json:"misses"`
	Sets    uint64 `json:"sets"`
	Deletes uint64 `json:"deletes"`
	Errors  uint64 `json:"errors"`
	// Get-or-load: loader calls, loader failures, early refreshes started,
	// and stale values served because a loader or the store failed.
	Loads       uint64 `json:"loads"`
	LoadErrors  uint64 `json:"load_errors"`
	Refreshes   uint64 `json:"refreshes"`
	StaleServed uint64 `json:"stale_served"`
	// Breaker is the circuit breaker's state ("none" on the in-process
	// store) and BreakerTransitions its transitions and fast failures.
	Breaker            string            `json:"breaker"`
	BreakerTransitions guard.Transitions `json:"breaker_transitions"`

	// ErrorRate is Errors over all counted operations (hits, misses, sets,
	// deletes and errors).
	ErrorRate float64 `json:"error_rate"`
	// ErrorsByKind splits Errors: unavailable, timeout, permission, refused,
	// serialization, other.
	ErrorsByKind map[string]uint64 `json:"errors_by_kind,omitempty"`
	// Ops has latency percentiles per kind of operation (get, set, ...),
	// when EnableMetrics is on.
	Ops map[string]OpStats `json:"ops,omitempty"`
	// Namespaces breaks the counts down by namespace.
	Namespaces map[string]NamespaceStats `json:"namespaces,omitempty"`
	// Connections is what the store reports of its client: pipelined
	// connections (per node on a cluster) and the blocking-command pool.
	PipelinedConnections int `json:"pipelined_connections"`
	BlockingPoolSize     int `json:"blocking_pool_size"`
	// Redis holds INFO figures; nil on the in-memory store or when INFO
	// failed.
	Redis *RedisInfo `json:"redis,omitempty"`
	// Near cache, over every namespace that has one: hits, misses,
	// evictions, entries and approximate bytes held, and whole-tier flushes
	// (on a lost connection).
	NearHits      uint64 `json:"near_hits"`
	NearMisses    uint64 `json:"near_misses"`
	NearEvictions uint64 `json:"near_evictions"`
	NearFlushes   uint64 `json:"near_flushes"`
	NearEntries   int    `json:"near_entries"`
	NearBytes     int64  `json:"near_bytes"`
	// ServerChanges counts the times the server behind the store changed
	// identity (run_id): a restart or a failover, after which the data may
	// be older than what this process saw, and its near tiers and last
	// known values were dropped.
	ServerChanges uint64 `json:"server_changes"`
	// Streams are the stream figures (Publish, consumer groups).
	Streams StreamStats `json:"streams"`
	// Invalidations describes the durable invalidation queue: deletes,
	// tag invalidations and clears kept while the store was unreachable.
	Invalidations InvalidationStats `json:"invalidations"`
}

// HitRate is Hits / (Hits + Misses), or 0 before any read.
func (s Stats) HitRate() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// Stats returns the Cache's counters and, on a store that reports them
// (Redis), the server's INFO figures in Redis. Reading INFO is a round
// trip, bounded by ctx and by one second (on a cluster, one per master);
// the counters themselves are read without blocking.
func (c *Cache) Stats(ctx context.Context) Stats {
	st := c.counters()
	c.collectMetrics(ctx, &st)
	return st
}

// counters is Stats without the per-operation, per-namespace and INFO
// parts: what is read without blocking.
func (c *Cache) counters() Stats {
	st := Stats{
		Backend:  c.kind,
		Topology: c.topology,
		Hits:     c.obs.total.hits.Load(),
		Misses:   c.obs.total.misses.Load(),
		Sets:     c.obs.total.sets.Load(),
		Deletes:  c.obs.total.deletes.Load(),
		Errors:   c.obs.total.errors.Load(),

		Loads:       c.loads.Load(),
		LoadErrors:  c.loadErrors.Load(),
		Refreshes:   c.refreshes.Load(),
		StaleServed: c.staleServed.Load(),
		Breaker:     "none",
	}
	if c.guard != nil {
		st.Breaker = c.guard.BreakerState().String()
		st.BreakerTransitions = c.guard.Transitions()
	}
	st.PipelinedConnections, st.BlockingPoolSize = c.desc.PipelinedConnections, c.desc.BlockingPoolSize
	st.ErrorRate = ratio(st.Errors, st.Hits+st.Misses+st.Sets+st.Deletes+st.Errors)
	st.NearFlushes = c.nearFlushes.Load()
	st.ServerChanges = c.serverChanges.Load()
	st.Streams = c.streamCounts.stats()
	st.Invalidations = c.inval.stats(c.now())
	c.namespaces.Range(func(_, v any) bool {
		if t := v.(*Namespace).near; t != nil {
			h, m, e, b := t.Stats()
			st.NearHits += h
			st.NearMisses += m
			st.NearEvictions += t.Evictions()
			st.NearEntries += e
			st.NearBytes += b
		}
		return true
	})
	return st
}

// LatencyBuckets returns, for operation op, how many calls took at most
// each of bounds (cumulative, as Prometheus buckets are), the total count
// and the sum of latencies. ok is false when metrics are off or op is not
// an operation name.
func (c *Cache) LatencyBuckets(op string, bounds []time.Duration) (cumulative []uint64, count uint64, sum time.Duration, ok bool) {
	k, ok := opIndex(op)
	if !ok || c.obs.rec == nil {
		return nil, 0, 0, false
	}
	h := &c.obs.rec.lat[k]
	cumulative = make([]uint64, len(bounds))
	for i, b := range bounds {
		cumulative[i] = h.CountAtMost(b)
	}
	return cumulative, h.Count(), h.Sum(), true
}

// OpNames lists the operation names that Stats.Ops and LatencyBuckets use.
func OpNames() []string { return append([]string(nil), opNames[:]...) }

// OpStats are one kind of operation's figures. Latencies come from a
// log-linear histogram and are within 1% of the true values.
type OpStats struct {
	Count  uint64        `json:"count"`
	Errors uint64        `json:"errors"`
	Avg    time.Duration `json:"avg_ns"`
	P50    time.Duration `json:"p50_ns"`
	P95    time.Duration `json:"p95_ns"`
	P99    time.Duration `json:"p99_ns"`
	Max    time.Duration `json:"max_ns"`
}

// NamespaceStats are one namespace's counts.
type NamespaceStats struct {
	Hits    uint64 `json:"hits"`
	Misses  uint64 `json:"misses"`
	Sets    uint64 `json:"sets"`
	Deletes uint64 `json:"deletes"`
	Errors  uint64 `json:"errors"`
}

// HitRate is Hits / (Hits + Misses), or 0 before any read.
func (s NamespaceStats) HitRate() float64 { return ratio(s.Hits, s.Hits+s.Misses) }

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// RedisInfo holds figures from the server's INFO; on a cluster, the sums
// over its masters.
type RedisInfo struct {
	Nodes int `json:"nodes"` // servers the figures add up

	ConnectedClients       int64  `json:"connected_clients"`
	UsedMemory             int64  `json:"used_memory_bytes"`
	UsedMemoryHuman        string `json:"used_memory_human"`
	EvictedKeys            int64  `json:"evicted_keys"`
	ExpiredKeys            int64  `json:"expired_keys"`
	KeyspaceHits           int64  `json:"keyspace_hits"`
	KeyspaceMisses         int64  `json:"keyspace_misses"`
	InstantaneousOpsPerSec int64  `json:"instantaneous_ops_per_sec"`
}

// parseInfo reads the fields RedisInfo keeps from INFO's text.
func parseInfo(text string) RedisInfo {
	var r RedisInfo
	ints := map[string]*int64{
		"connected_clients": &r.ConnectedClients, "used_memory": &r.UsedMemory, "evicted_keys": &r.EvictedKeys,
		"expired_keys": &r.ExpiredKeys, "keyspace_hits": &r.KeyspaceHits, "keyspace_misses": &r.KeyspaceMisses,
		"instantaneous_ops_per_sec": &r.InstantaneousOpsPerSec,
	}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		if p, ok := ints[k]; ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			*p += n // one server's INFO, or several concatenated
		} else if k == "used_memory_human" {
			r.UsedMemoryHuman = v
			r.Nodes++
		}
	}
	if r.Nodes > 1 {
		r.UsedMemoryHuman = humanBytes(r.UsedMemory)
	}
	return r
}

// humanBytes writes n as INFO's used_memory_human does: 1.50M.
func humanBytes(n int64) string {
	const units = "BKMGTP"
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatInt(n, 10) + "B"
	}
	return strconv.FormatFloat(f, 'f', 2, 64) + units[i:i+1]
}

// collectMetrics fills the per-operation, per-namespace and INFO parts of
// st.
func (c *Cache) collectMetrics(ctx context.Context, st *Stats) {
	st.Namespaces = map[string]NamespaceStats{}
	c.namespaces.Range(func(k, v any) bool {
		n := v.(*Namespace)
		ns := NamespaceStats{n.counts.hits.Load(), n.counts.misses.Load(), n.counts.sets.Load(), n.counts.deletes.Load(), n.counts.errors.Load()}
		if ns != (NamespaceStats{}) {
			st.Namespaces[k.(string)] = ns
		}
		return true
	})
	if m := c.obs.rec; m != nil {
		st.Ops = map[string]OpStats{}
		st.ErrorsByKind = map[string]uint64{}
		for i := range numOps {
			h := &m.lat[i]
			if h.Count() == 0 && m.errs[i].Load() == 0 {
				continue
			}
			st.Ops[opNames[i]] = OpStats{Count: h.Count(), Errors: m.errs[i].Load(), Avg: h.Mean(),
				P50: h.Quantile(0.5), P95: h.Quantile(0.95), P99: h.Quantile(0.99), Max: h.Max()}
		}
		for i := range numErrKinds {
			if n := m.byKind[i].Load(); n > 0 {
				st.ErrorsByKind[errKindNames[i]] = n
			}
		}
	}
	ictx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if text, ok := c.info(ictx); ok {
		info := parseInfo(text)
		st.Redis = &info
	}
}
