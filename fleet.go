package tradecache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Fleet is the merge of the published figures of every instance whose
// snapshot has not expired (see Config.PublishStats), with latency
// percentiles computed from the merged histograms, each instance's own
// snapshot, and the hot keys summed across instances.
type Fleet struct {
	Instances []InstanceStats `json:"instances"`
	// Running counts the instances in state "running" (InstanceStats.State).
	Running int `json:"running"`
	// Total is every instance's figures since it started, stopped and
	// silent ones included.
	Total Window `json:"total"`
	// Recent is the last interval of the running instances only: the
	// rates of one that stopped or went silent are not current.
	Recent Window `json:"recent"`
	// HotKeys are the running instances' hot keys, summed.
	HotKeys []HotKey `json:"hot_keys,omitempty"`
	// Streams sums the instances' stream counts; the lag is the worst
	// instance's p99.
	Streams StreamStats `json:"streams"`
	// Refused names the snapshots that were found but not used, and why:
	// published figures are read as untrusted input, and a snapshot that
	// is too large, of another format or inconsistent is left out rather
	// than merged.
	Refused []RefusedStats `json:"refused,omitempty"`
}

// RefusedStats is a snapshot FleetStats left out.
type RefusedStats struct {
	Instance string `json:"instance"`
	Reason   string `json:"reason"`
}

// FleetStats reads the figures every live instance published under this
// Cache's key prefix, at most MaxFleetInstances of them, and merges them.
// An instance whose snapshot expired between the roster and the read is
// left out. It needs no metrics of its own: `tradecache stats` runs it in
// a process that publishes nothing.
func (c *Cache) FleetStats(ctx context.Context) (Fleet, error) {
	if c.closed.Load() {
		return Fleet{}, &OpError{Op: "fleet_stats", Err: errClosed}
	}
	prefix := c.cfg.KeyPrefix
	members, vals, err := c.readStats(ctx, statsRoster(prefix), MaxFleetInstances, statsKeyFunc(prefix))
	if err != nil {
		return Fleet{}, &OpError{Op: "fleet_stats", Err: err}
	}
	var f Fleet
	for i, m := range members {
		if vals[i] == nil {
			continue // gone since the roster was read
		}
		st, err := parseInstanceStats(m.Name, vals[i])
		if err != nil {
			f.Refused = append(f.Refused, RefusedStats{Instance: m.Name, Reason: err.Error()})
			continue
		}
		// It announced itself for three intervals (statsPublisher.publish);
		// what it has left says, on the store's clock, how long ago.
		st.Seen = max(announcedFor(st.Interval)-m.TTL, 0)
		f.Instances = append(f.Instances, st)
	}
	sort.Slice(f.Instances, func(i, j int) bool { return f.Instances[i].Instance < f.Instances[j].Instance })
	sort.Slice(f.Refused, func(i, j int) bool { return f.Refused[i].Instance < f.Refused[j].Instance })
	f.merge()
	return f, nil
}

// The states of a published instance (InstanceStats.State).
const (
	InstanceRunning = "running" // it announced itself within two intervals (and silentSlack)
	InstanceStopped = "stopped" // it was closed; this is its last snapshot
	InstanceSilent  = "silent"  // not for longer: killed, hung or cut off
)

// silentSlack is added to two intervals before an instance counts as
// silent: a publish may take up to a second (publishBounded).
const silentSlack = 2 * time.Second

// State says whether the instance is running, stopped or silent, as
// FleetStats found it. Silence is judged by Seen, which the store's clock
// alone measures: no host's clock, the writer's or the reader's, can make
// a running instance look silent, or a silent one running.
func (st InstanceStats) State() string {
	switch {
	case st.Stopped:
		return InstanceStopped
	case st.Seen > 2*st.Interval+silentSlack:
		return InstanceSilent
	}
	return InstanceRunning
}

// announcedFor is how long an instance publishing every interval
// announces itself for, and its snapshot lives.
func announcedFor(interval time.Duration) time.Duration { return 3 * interval }

// parseInstanceStats reads member's snapshot b and checks everything the
// merge and the percentiles rely on.
func parseInstanceStats(member string, b []byte) (InstanceStats, error) {
	var st InstanceStats
	if len(b) > MaxStatsBytes {
		return st, fmt.Errorf("%d bytes, over MaxStatsBytes (%d)", len(b), MaxStatsBytes)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("not a stats snapshot: %v", err)
	}
	if st.Format != StatsFormat {
		return st, fmt.Errorf("format %d, this reader knows %d", st.Format, StatsFormat)
	}
	if st.Instance != member {
		return st, fmt.Errorf("published as %q under %q's key", st.Instance, member)
	}
	if st.Interval < minStatsInterval || st.Interval > maxStatsInterval {
		return st, fmt.Errorf("interval %v, outside StatsInterval's %v to %v", st.Interval, minStatsInterval, maxStatsInterval)
	}
	if len(st.HotKeys) > HotKeysPublished {
		return st, fmt.Errorf("%d hot keys, at most %d are published", len(st.HotKeys), HotKeysPublished)
	}
	for _, w := range []Window{st.Total, st.Recent} {
		if err := w.check(); err != nil {
			return st, err
		}
	}
	return st, nil
}

// check refuses a window no Cache publishes: histograms that are not
// histograms, namespace names outside the grammar, rates that are not
// numbers.
func (w Window) check() error {
	if !(w.Seconds >= 0 && w.OpsPerSec >= 0) { // NaN fails both
		return errors.New("negative or NaN rates")
	}
	for op, h := range w.Ops {
		if _, ok := opIndex(op); !ok {
			return fmt.Errorf("unknown operation %q", op)
		}
		if err := h.check(); err != nil {
			return fmt.Errorf("%s latency: %v", op, err)
		}
	}
	for name, n := range w.Namespaces {
		if reason := checkName(name); reason != "" {
			return fmt.Errorf("namespace name %s", reason)
		}
		if err := n.Latency.check(); err != nil {
			return fmt.Errorf("namespace %s latency: %v", name, err)
		}
		if !(n.OpsPerSec >= 0) {
			return errors.New("negative or NaN rates")
		}
	}
	return nil
}

// merge fills the fleet's windows and hot keys from its instances.
func (f *Fleet) merge() {
	f.Total, f.Recent, f.Streams, f.Running = Window{}, Window{}, StreamStats{}, 0
	hot := map[[2]string]*HotKey{}
	for _, st := range f.Instances {
		f.Total.add(st.Total)
		s := st.Streams
		f.Streams.Published, f.Streams.Refused = satAdd(f.Streams.Published, s.Published), satAdd(f.Streams.Refused, s.Refused)
		f.Streams.Read, f.Streams.Acked = satAdd(f.Streams.Read, s.Read), satAdd(f.Streams.Acked, s.Acked)
		f.Streams.Claimed, f.Streams.DeadLettered = satAdd(f.Streams.Claimed, s.Claimed), satAdd(f.Streams.DeadLettered, s.DeadLettered)
		if st.State() != InstanceRunning {
			continue
		}
		f.Running++
		f.Recent.add(st.Recent)
		f.Streams.LagP99 = max(f.Streams.LagP99, s.LagP99)
		for _, k := range st.HotKeys {
			id := [2]string{k.Namespace, k.Key}
			if h, ok := hot[id]; ok {
				h.Reads, h.Error, h.ReadsPerSec = satAdd(h.Reads, k.Reads), satAdd(h.Error, k.Error), h.ReadsPerSec+k.ReadsPerSec
			} else {
				k := k
				hot[id] = &k
			}
		}
	}
	for _, h := range hot {
		f.HotKeys = append(f.HotKeys, *h)
	}
	sort.Slice(f.HotKeys, func(i, j int) bool {
		if f.HotKeys[i].ReadsPerSec != f.HotKeys[j].ReadsPerSec {
			return f.HotKeys[i].ReadsPerSec > f.HotKeys[j].ReadsPerSec
		}
		return f.HotKeys[i].Namespace+":"+f.HotKeys[i].Key < f.HotKeys[j].Namespace+":"+f.HotKeys[j].Key
	})
	if len(f.HotKeys) > 2*HotKeysPublished {
		f.HotKeys = f.HotKeys[:2*HotKeysPublished]
	}
}

// add merges o into w: counts and rates summed (instances run side by
// side), histograms merged, Seconds the longest.
func (w *Window) add(o Window) {
	w.Seconds = max(w.Seconds, o.Seconds)
	w.OpsPerSec += o.OpsPerSec
	w.Hits, w.Misses, w.Sets = satAdd(w.Hits, o.Hits), satAdd(w.Misses, o.Misses), satAdd(w.Sets, o.Sets)
	w.Deletes, w.Errors = satAdd(w.Deletes, o.Deletes), satAdd(w.Errors, o.Errors)
	for op, h := range o.Ops {
		if w.Ops == nil {
			w.Ops = map[string]SparseHistogram{}
		}
		m := w.Ops[op]
		m.Merge(h)
		w.Ops[op] = m
	}
	for name, n := range o.Namespaces {
		if w.Namespaces == nil {
			w.Namespaces = map[string]NamespaceWindow{}
		}
		m := w.Namespaces[name]
		m.Hits, m.Misses, m.Sets = satAdd(m.Hits, n.Hits), satAdd(m.Misses, n.Misses), satAdd(m.Sets, n.Sets)
		m.Deletes, m.Errors = satAdd(m.Deletes, n.Deletes), satAdd(m.Errors, n.Errors)
		m.OpsPerSec += n.OpsPerSec
		m.Latency.Merge(n.Latency)
		w.Namespaces[name] = m
	}
}

func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}
