package main

import (
	"context"
	"sort"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/fleet"
)

// fleetView is what `stats` and `top` show: the published figures of
// every instance whose snapshot has not expired, merged (percentiles from
// the merged histograms, never averaged), per namespace and per instance,
// beside the server's INFO. Total counts every instance since it started;
// Recent, the running ones' last interval only (fleet.Fleet). Its
// JSON form is `stats --json`.
type fleetView struct {
	Backend  string                `json:"backend"`
	Topology string                `json:"topology,omitempty"`
	Prefix   string                `json:"key_prefix"`
	Redis    *tradecache.RedisInfo `json:"redis,omitempty"`
	Running  int                   `json:"instances_running"` // the others stopped or went silent

	Total     windowView      `json:"total"`  // since each instance started
	Recent    windowView      `json:"recent"` // each instance's last interval
	Instances []instanceView  `json:"instances"`
	HotKeys   []hotKeyView    `json:"hot_keys"`
	Streams   fleet.Streams   `json:"streams"`
	Refused   []fleet.Refused `json:"refused,omitempty"`
	at        time.Time
}

type windowView struct {
	Seconds    float64                  `json:"seconds"`
	OpsPerSec  float64                  `json:"ops_per_sec"`
	Hits       uint64                   `json:"hits"`
	Misses     uint64                   `json:"misses"`
	Sets       uint64                   `json:"sets"`
	Deletes    uint64                   `json:"deletes"`
	Errors     uint64                   `json:"errors"`
	HitRate    float64                  `json:"hit_rate"`
	Latency    latencyView              `json:"latency"` // every store call, of every namespace
	Ops        map[string]latencyView   `json:"ops"`
	Namespaces map[string]namespaceView `json:"namespaces"`
}

type namespaceView struct {
	fleet.Counts
	HitRate   float64     `json:"hit_rate"`
	OpsPerSec float64     `json:"ops_per_sec"`
	Latency   latencyView `json:"latency"`
}

// latencyView is a merged histogram's figures, in the form Stats.Ops has.
type latencyView = tradecache.OpStats

type instanceView struct {
	Instance string        `json:"instance"`
	Host     string        `json:"host"`
	PID      int           `json:"pid"`
	Version  string        `json:"version"`
	Backend  string        `json:"backend"`
	State    string        `json:"state"`  // running, stopped (closed) or silent (not renewed for two intervals)
	Age      time.Duration `json:"age_ns"` // since it last published, by the store's clock
	Breaker  string        `json:"breaker"`
	// Invalidations is the instance's queue of invalidations waiting for
	// the store (durable invalidation).
	Invalidations fleet.Invalidations `json:"invalidations"`
	Total         windowView          `json:"total"`
	Recent        windowView          `json:"recent"`
}

// hotKeyView names a hot key by its hash (tradecache.KeyHash), and by the
// key itself only when asked (--keys): keys can be session tokens.
type hotKeyView struct {
	Namespace   string  `json:"namespace"`
	KeyHash     string  `json:"key_hash"`
	Key         string  `json:"key,omitempty"`
	ReadsPerSec float64 `json:"reads_per_sec"`
}

// readFleet reads the fleet's figures and the server's through c.
func readFleet(ctx context.Context, c *tradecache.Cache, showKeys bool) (fleetView, error) {
	f, err := c.FleetStats(ctx)
	if err != nil {
		return fleetView{}, err
	}
	st := c.Stats(ctx) // for INFO; this process's own counters are not shown
	v := fleetView{Backend: st.Backend, Topology: st.Topology, Prefix: c.Config().KeyPrefix, Redis: st.Redis,
		Running: f.Running, Total: viewWindow(f.Total), Recent: viewWindow(f.Recent), Refused: f.Refused, at: time.Now(),
		Instances: []instanceView{}, HotKeys: []hotKeyView{}, Streams: f.Streams}
	for _, in := range f.Instances {
		v.Instances = append(v.Instances, instanceView{Instance: in.Instance, Host: in.Host, PID: in.PID, Version: in.Version,
			Backend: in.Backend, State: in.State(), Age: in.Seen, Breaker: in.Breaker, Invalidations: in.Invalidations,
			Total: viewWindow(in.Total), Recent: viewWindow(in.Recent)})
	}
	for _, k := range f.HotKeys {
		h := hotKeyView{Namespace: k.Namespace, KeyHash: tradecache.KeyHash(k.Key), ReadsPerSec: k.ReadsPerSec}
		if showKeys {
			h.Key = k.Key
		}
		v.HotKeys = append(v.HotKeys, h)
	}
	return v, nil
}

func viewWindow(w fleet.Window) windowView {
	v := windowView{Seconds: w.Seconds, OpsPerSec: w.OpsPerSec, Hits: w.Hits, Misses: w.Misses, Sets: w.Sets, Deletes: w.Deletes,
		Errors: w.Errors, HitRate: w.HitRate(), Ops: map[string]latencyView{}, Namespaces: map[string]namespaceView{}}
	for op, h := range w.Ops {
		v.Ops[op] = viewLatency(h)
	}
	var all fleet.Histogram
	for name, n := range w.Namespaces {
		v.Namespaces[name] = namespaceView{Counts: n.Counts, HitRate: n.HitRate(), OpsPerSec: n.OpsPerSec, Latency: viewLatency(n.Latency)}
		all.Merge(n.Latency)
	}
	v.Latency = viewLatency(all)
	return v
}

func viewLatency(h fleet.Histogram) latencyView {
	return latencyView{Count: h.Count, Avg: h.Mean(), P50: h.Quantile(0.5), P95: h.Quantile(0.95), P99: h.Quantile(0.99), Max: time.Duration(h.Max)}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
