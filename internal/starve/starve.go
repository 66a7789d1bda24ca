// Package starve tells whether this process is starved of CPU: whether
// its runnable goroutines wait long to run. A call that timed out while
// the process was starved says nothing about the server it called: its
// reply may have sat unread behind a busy scheduler. Package guard uses
// this to keep such timeouts from opening a circuit breaker, so that an
// overloaded client is not taken for a dead Redis.
//
// It reads the Go scheduler's own histogram of how long goroutines spent
// runnable before running (runtime/metrics /sched/latencies:seconds), and
// looks at the calls since its previous look: the process is starved when
// more than 1% of them waited longer than the threshold.
package starve

import (
	"math"
	"runtime/metrics"
	"sync"
	"time"
)

const name = "/sched/latencies:seconds"

// Detector answers Starved from the scheduler latencies recorded since it
// last looked. The zero value is not ready; use New.
type Detector struct {
	threshold float64 // seconds
	mu        sync.Mutex
	sample    []metrics.Sample
	prev      []uint64 // bucket counts at the previous look
	at        time.Time
	starved   bool
}

// minInterval is how often the histogram is read at most: reading it is
// cheap, but a burst of failing calls asks together.
const minInterval = 50 * time.Millisecond

// New returns a Detector that reports starvation when goroutines wait
// longer than threshold to run.
func New(threshold time.Duration) *Detector {
	d := &Detector{threshold: threshold.Seconds(), sample: []metrics.Sample{{Name: name}}}
	d.read() // the baseline
	return d
}

// Starved reports whether, since the previous look (at least minInterval
// ago, else the previous answer), more than 1% of goroutine wake-ups
// waited longer than the threshold.
func (d *Detector) Starved() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if time.Since(d.at) < minInterval {
		return d.starved
	}
	h := d.read()
	if h == nil {
		return false
	}
	var total, late uint64
	for i, c := range h.Counts {
		n := c - d.prev[i]
		total += n
		if lo := h.Buckets[i]; lo >= d.threshold && !math.IsInf(lo, -1) {
			late += n
		}
	}
	d.prev = append(d.prev[:0], h.Counts...)
	d.starved = total > 0 && late*100 > total
	return d.starved
}

// read samples the histogram; the first read records the baseline.
func (d *Detector) read() *metrics.Float64Histogram {
	metrics.Read(d.sample)
	d.at = time.Now()
	if d.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	h := d.sample[0].Value.Float64Histogram()
	if d.prev == nil {
		d.prev = append([]uint64(nil), h.Counts...)
	}
	return h
}
