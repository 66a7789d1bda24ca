// Package prom exposes a tradecache.Cache to Prometheus.
//
// NewCollector returns a prometheus.Collector that the caller registers on
// a registry of their own: nothing is registered globally and creating one
// has no side effects. Each scrape reads Cache.Stats, so the figures are
// those of the moment of the scrape, and recording stays in the cache's
// own lock-free counters.
//
// Labels are bounded: op (a fixed set), namespace (names the application
// chose), result and state. A key never becomes a label.
package prom

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tradecache/tradecache"
)

// Buckets are the latency histogram's upper bounds, in seconds: from 25µs
// (a loopback round trip) to 1s (well past any operation timeout).
var Buckets = []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1}

// Collector is a prometheus.Collector over one Cache.
type Collector struct {
	cache *tradecache.Cache

	ops, duration, breaker, transitions, rejected, errorsByKind    *prometheus.Desc
	clients, memory, evicted, expired, ksHits, ksMisses, opsPerSec *prometheus.Desc
	loads, stale                                                   *prometheus.Desc
	streamEntries, streamLag                                       *prometheus.Desc
	invalQueued, invalTotal, invalOldest                           *prometheus.Desc
}

// NewCollector returns a Collector for c.
func NewCollector(c *tradecache.Cache) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("tradecache_"+name, help, labels, nil)
	}
	return &Collector{
		cache:         c,
		ops:           d("operations_total", "Cache operations by namespace and result (hit, miss, set, delete, error).", "op", "namespace", "result"),
		duration:      d("operation_duration_seconds", "Latency of store operations, by operation.", "op"),
		breaker:       d("breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open."),
		transitions:   d("breaker_transitions_total", "Circuit breaker transitions, by the state entered.", "to"),
		rejected:      d("breaker_rejected_total", "Calls failed fast while the breaker was open."),
		errorsByKind:  d("errors_total", "Errors by kind.", "kind"),
		loads:         d("loads_total", "Get-or-load loader calls, by result.", "result"),
		stale:         d("stale_served_total", "Stale values served by get-or-load because a loader or the store failed."),
		clients:       d("redis_connected_clients", "Redis INFO connected_clients."),
		memory:        d("redis_used_memory_bytes", "Redis INFO used_memory."),
		evicted:       d("redis_evicted_keys_total", "Redis INFO evicted_keys."),
		expired:       d("redis_expired_keys_total", "Redis INFO expired_keys."),
		ksHits:        d("redis_keyspace_hits_total", "Redis INFO keyspace_hits."),
		ksMisses:      d("redis_keyspace_misses_total", "Redis INFO keyspace_misses."),
		opsPerSec:     d("redis_instantaneous_ops_per_second", "Redis INFO instantaneous_ops_per_sec."),
		streamEntries: d("stream_entries_total", "Stream entries by what happened to them: published, refused (not above the stored version), read (delivered to subscribers and consumers), acked, claimed (from idle consumers), dead_lettered.", "event"),
		streamLag:     d("stream_lag_seconds", "From a stream entry's append to its read, by quantile.", "quantile"),
		invalQueued:   d("invalidations_queued", "Invalidations (Delete, InvalidateTag, ClearNamespace) waiting for the store to answer again."),
		invalTotal:    d("invalidations_total", "Invalidations that could not reach the store, by what became of them: queued, applied (from the queue), dropped (the queue was full).", "event"),
		invalOldest:   d("invalidations_oldest_age_seconds", "How long the oldest queued invalidation has waited."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ops, c.duration, c.breaker, c.transitions, c.rejected, c.errorsByKind, c.loads, c.stale,
		c.clients, c.memory, c.evicted, c.expired, c.ksHits, c.ksMisses, c.opsPerSec, c.streamEntries, c.streamLag,
		c.invalQueued, c.invalTotal, c.invalOldest} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st := c.cache.Stats(ctx)
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for ns, s := range st.Namespaces {
		counter(c.ops, float64(s.Hits), "get", ns, "hit")
		counter(c.ops, float64(s.Misses), "get", ns, "miss")
		counter(c.ops, float64(s.Sets), "set", ns, "set")
		counter(c.ops, float64(s.Deletes), "delete", ns, "delete")
		counter(c.ops, float64(s.Errors), "any", ns, "error")
	}
	bounds := make([]time.Duration, len(Buckets))
	for i, b := range Buckets {
		bounds[i] = time.Duration(b * float64(time.Second))
	}
	for _, op := range tradecache.OpNames() {
		cum, count, sum, ok := c.cache.LatencyBuckets(op, bounds)
		if !ok || count == 0 {
			continue
		}
		buckets := make(map[float64]uint64, len(Buckets))
		for i, b := range Buckets {
			buckets[b] = cum[i]
		}
		ch <- prometheus.MustNewConstHistogram(c.duration, count, sum.Seconds(), buckets, op)
	}
	if st.Breaker != "none" {
		gauge(c.breaker, map[string]float64{"closed": 0, "half-open": 1, "open": 2}[st.Breaker])
		counter(c.transitions, float64(st.BreakerTransitions.Opened), "open")
		counter(c.transitions, float64(st.BreakerTransitions.HalfOpened), "half-open")
		counter(c.transitions, float64(st.BreakerTransitions.Closed), "closed")
		counter(c.rejected, float64(st.BreakerTransitions.Rejected))
	}
	for kind, n := range st.ErrorsByKind {
		counter(c.errorsByKind, float64(n), kind)
	}
	counter(c.loads, float64(st.Loads-st.LoadErrors), "ok")
	counter(c.loads, float64(st.LoadErrors), "error")
	counter(c.stale, float64(st.StaleServed))
	inv := st.Invalidations
	gauge(c.invalQueued, float64(inv.Queued))
	counter(c.invalTotal, float64(inv.Enqueued), "queued")
	counter(c.invalTotal, float64(inv.Applied), "applied")
	counter(c.invalTotal, float64(inv.Dropped), "dropped")
	gauge(c.invalOldest, inv.OldestAge.Seconds())
	if c.cache.HasStreams() {
		sst := st.Streams
		for event, n := range map[string]uint64{"published": sst.Published, "refused": sst.Refused, "read": sst.Read,
			"acked": sst.Acked, "claimed": sst.Claimed, "dead_lettered": sst.DeadLettered} {
			counter(c.streamEntries, float64(n), event)
		}
		gauge(c.streamLag, sst.LagP50.Seconds(), "0.5")
		gauge(c.streamLag, sst.LagP99.Seconds(), "0.99")
	}
	if r := st.Redis; r != nil {
		gauge(c.clients, float64(r.ConnectedClients))
		gauge(c.memory, float64(r.UsedMemory))
		counter(c.evicted, float64(r.EvictedKeys))
		counter(c.expired, float64(r.ExpiredKeys))
		counter(c.ksHits, float64(r.KeyspaceHits))
		counter(c.ksMisses, float64(r.KeyspaceMisses))
		gauge(c.opsPerSec, float64(r.InstantaneousOpsPerSec))
	}
}
