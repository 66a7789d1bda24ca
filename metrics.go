package tradecache

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tradecache/tradecache/internal/hist"
)

// opKind indexes per-operation statistics. Operations are a fixed, small
// set, so they are safe as metric labels; keys never are.
type opKind uint8

const (
	opGet opKind = iota
	opSet
	opDelete
	opExists
	opTTL
	opExpire
	opGetMany
	opSetMany
	opClear
	opGetOrLoad
	numOps
)

var opNames = [numOps]string{"get", "set", "delete", "exists", "ttl", "expire", "get_many", "set_many", "clear", "get_or_load"}

func opIndex(op string) (opKind, bool) {
	for i, n := range opNames {
		if n == op {
			return opKind(i), true
		}
	}
	return 0, false
}

// Error kinds counted in Stats.ErrorsByKind.
const (
	errUnavailable = iota
	errTimeout
	errPermission
	errSerialization
	errOther
	numErrKinds
)

var errKindNames = [numErrKinds]string{"unavailable", "timeout", "permission", "serialization", "other"}

func errKind(err error) int {
	var se *SerializationError
	switch {
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return errTimeout
	case errors.Is(err, ErrUnavailable):
		return errUnavailable
	case errors.Is(err, ErrNoPermission), errors.Is(err, ErrAuth):
		return errPermission
	case errors.As(err, &se):
		return errSerialization
	}
	return errOther
}

// recorder holds the latency histograms and error counts. Recording is
// lock-free: an atomic add per histogram bucket and counter.
type recorder struct {
	lat    [numOps]hist.Histogram
	errs   [numOps]atomic.Uint64
	byKind [numErrKinds]atomic.Uint64
}

// nsCounters are one namespace's counts.
type nsCounters struct {
	hits, misses, sets, deletes, errors atomic.Uint64
}

func (n *Namespace) hit(k int) {
	n.c.hits.Add(uint64(k))
	n.counts.hits.Add(uint64(k))
}

func (n *Namespace) miss(k int) {
	n.c.misses.Add(uint64(k))
	n.counts.misses.Add(uint64(k))
}

func (n *Namespace) wrote(k int) {
	n.c.sets.Add(uint64(k))
	n.counts.sets.Add(uint64(k))
}

func (n *Namespace) deleted(k int64) {
	n.c.deletes.Add(uint64(k))
	n.counts.deletes.Add(uint64(k))
}

// failed counts an error of op (with no latency: serialization errors and
// the like happen outside the store call).
func (n *Namespace) failed(op opKind, err error) {
	n.c.errors.Add(1)
	n.counts.errors.Add(1)
	if n.c.metrics != nil {
		n.c.metrics.errs[op].Add(1)
		n.c.metrics.byKind[errKind(err)].Add(1)
	}
}

// OpStats are one kind of operation's figures. Latencies come from a
// log-linear histogram and are within 1% of the true values.
type OpStats struct {
	Count, Errors           uint64
	Avg, P50, P95, P99, Max time.Duration
}

// NamespaceStats are one namespace's counts.
type NamespaceStats struct {
	Hits, Misses, Sets, Deletes, Errors uint64
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
	Nodes int // servers the figures add up

	ConnectedClients       int64
	UsedMemory             int64
	UsedMemoryHuman        string
	EvictedKeys            int64
	ExpiredKeys            int64
	KeyspaceHits           int64
	KeyspaceMisses         int64
	InstantaneousOpsPerSec int64
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
	if m := c.metrics; m != nil {
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
