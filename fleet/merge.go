package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/tradecache/tradecache/internal/names"
)

// Fleet is the merge of the published figures of every instance whose
// snapshot has not expired, with latency percentiles computed from the
// merged histograms, each instance's own snapshot, and the hot keys
// summed across instances.
type Fleet struct {
	Instances []InstanceStats `json:"instances"`
	// Running counts the instances in state Running.
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
	Streams Streams `json:"streams"`
	// Refused names the snapshots that were found but not used, and why.
	Refused []Refused `json:"refused,omitempty"`
}

// Refused is a snapshot left out of a Fleet, and why.
type Refused struct {
	Instance string `json:"instance"`
	Reason   string `json:"reason"`
}

// Parse reads member's snapshot b and checks everything the merge and the
// percentiles rely on; ops are the operation names a latency may be
// published under.
func Parse(member string, b []byte, ops []string) (InstanceStats, error) {
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
	if st.Interval < MinInterval || st.Interval > MaxInterval {
		return st, fmt.Errorf("interval %v, outside StatsInterval's %v to %v", st.Interval, MinInterval, MaxInterval)
	}
	if len(st.HotKeys) > HotKeysPublished {
		return st, fmt.Errorf("%d hot keys, at most %d are published", len(st.HotKeys), HotKeysPublished)
	}
	for _, w := range []Window{st.Total, st.Recent} {
		if err := w.check(ops); err != nil {
			return st, err
		}
	}
	return st, nil
}

// check refuses a window no instance publishes: histograms that are not
// histograms, unknown operations, namespace names outside the grammar,
// rates that are not numbers.
func (w Window) check(ops []string) error {
	if !(w.Seconds >= 0 && w.OpsPerSec >= 0) { // NaN fails both
		return errors.New("negative or NaN rates")
	}
	for op, h := range w.Ops {
		if !slices.Contains(ops, op) {
			return fmt.Errorf("unknown operation %q", op)
		}
		if err := h.check(); err != nil {
			return fmt.Errorf("%s latency: %v", op, err)
		}
	}
	for name, n := range w.Namespaces {
		if reason := names.Check(name); reason != "" {
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

// Merge returns the fleet of instances (each parsed, with Seen filled
// in) and the refused snapshots: windows, streams and hot keys merged.
func Merge(instances []InstanceStats, refused []Refused) Fleet {
	f := Fleet{Instances: instances, Refused: refused}
	sort.Slice(f.Instances, func(i, j int) bool { return f.Instances[i].Instance < f.Instances[j].Instance })
	sort.Slice(f.Refused, func(i, j int) bool { return f.Refused[i].Instance < f.Refused[j].Instance })
	hot := map[[2]string]*HotKey{}
	for _, st := range f.Instances {
		f.Total.add(st.Total)
		s := st.Streams
		f.Streams.Published, f.Streams.Refused = satAdd(f.Streams.Published, s.Published), satAdd(f.Streams.Refused, s.Refused)
		f.Streams.Read, f.Streams.Acked = satAdd(f.Streams.Read, s.Read), satAdd(f.Streams.Acked, s.Acked)
		f.Streams.Claimed, f.Streams.DeadLettered = satAdd(f.Streams.Claimed, s.Claimed), satAdd(f.Streams.DeadLettered, s.DeadLettered)
		if st.State() != Running {
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
	return f
}

// add merges o into w: counts and rates summed (instances run side by
// side), histograms merged, Seconds the longest.
func (w *Window) add(o Window) {
	w.Seconds = max(w.Seconds, o.Seconds)
	w.OpsPerSec += o.OpsPerSec
	w.Counts = w.Counts.add(o.Counts)
	for op, h := range o.Ops {
		if w.Ops == nil {
			w.Ops = map[string]Histogram{}
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
		m.Counts = m.Counts.add(n.Counts)
		m.OpsPerSec += n.OpsPerSec
		m.Latency.Merge(n.Latency)
		w.Namespaces[name] = m
	}
}

func (c Counts) add(o Counts) Counts {
	return Counts{satAdd(c.Hits, o.Hits), satAdd(c.Misses, o.Misses), satAdd(c.Sets, o.Sets), satAdd(c.Deletes, o.Deletes), satAdd(c.Errors, o.Errors)}
}

// sub is what c counted that earlier, an earlier read of the same
// counters, had not.
func (c Counts) sub(earlier Counts) Counts {
	d := func(a, b uint64) uint64 { return a - min(a, b) }
	return Counts{d(c.Hits, earlier.Hits), d(c.Misses, earlier.Misses), d(c.Sets, earlier.Sets), d(c.Deletes, earlier.Deletes), d(c.Errors, earlier.Errors)}
}

func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}

// SetRates sets the window's length and rates from d.
func (w *Window) SetRates(d time.Duration) {
	w.Seconds = max(d.Seconds(), 1e-3)
	w.OpsPerSec = float64(w.Counts.Sum()) / w.Seconds
	for name, n := range w.Namespaces {
		n.OpsPerSec = float64(n.Counts.Sum()) / w.Seconds
		w.Namespaces[name] = n
	}
}

// Since returns what w counted that earlier (a Total of the same
// instance) had not.
func (w Window) Since(earlier Window) Window {
	d := Window{Counts: w.Counts.sub(earlier.Counts), Ops: map[string]Histogram{}, Namespaces: map[string]NamespaceWindow{}}
	for op, h := range w.Ops {
		if r := h.Since(earlier.Ops[op]); r.Count > 0 {
			d.Ops[op] = r
		}
	}
	for name, n := range w.Namespaces {
		e := earlier.Namespaces[name]
		r := NamespaceWindow{Counts: n.Counts.sub(e.Counts), Latency: n.Latency.Since(e.Latency)}
		if r.Counts.Sum() > 0 {
			d.Namespaces[name] = r
		}
	}
	return d
}
