// Package starve tells whether this process is starved of CPU: whether
// its runnable goroutines wait long to run. A call that timed out while
// the process was starved says nothing about the server it called: its
// reply may have sat unread behind a busy scheduler. Package guard uses
// this to keep such timeouts from opening a circuit breaker, so that an
// overloaded client is not taken for a dead Redis.
//
// It reads the Go scheduler's own histogram of how long goroutines spent
// runnable before running (runtime/metrics /sched/latencies:seconds)
// every 20ms, in a goroutine that runs only while someone asks: it starts
// on the first question and stops three seconds after the last. The process
// is starved when more than 1% of the wake-ups of the last 20ms waited
// longer than the threshold, or when the sampler's own tick came later than
// that: the kernel kept the process's threads off the CPU (another program
// burning it), which the Go scheduler's histogram does not see.
package starve

import (
	"math"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

const name = "/sched/latencies:seconds"

const (
	period = 20 * time.Millisecond // how often the histogram is read
	idle   = 3 * time.Second       // how long the sampler outlives the last question (less than the leak checks' grace)
)

// Detector answers Starved. The zero value is not ready; use New.
type Detector struct {
	threshold float64 // seconds
	starved   atomic.Bool
	// lastStarved is when a sample last found the process starved (unix
	// nanoseconds), for StarvedSince: a call whose deadline passed just
	// after a starved spell ended was delayed by it all the same.
	lastStarved atomic.Int64
	running     atomic.Bool
	asked       atomic.Int64 // unix nanoseconds of the last question
}

// New returns a Detector that reports starvation when goroutines wait
// longer than threshold to run.
func New(threshold time.Duration) *Detector { return &Detector{threshold: threshold.Seconds()} }

// Starved reports whether more than 1% of the goroutine wake-ups of the
// last sampling period waited longer than the threshold, or, for the
// questions the sampler has no period for yet (it starts on the first one
// after a quiet spell), whether yielding the processor now takes longer
// than the threshold to be given it back.
func (d *Detector) Starved() bool {
	d.asked.Store(time.Now().UnixNano())
	if !d.running.Load() && d.running.CompareAndSwap(false, true) {
		go d.sample()
	}
	if d.starved.Load() {
		return true
	}
	// A goroutine that yields goes behind every runnable one: on a
	// starved process it waits a scheduling round, on an idle one it is
	// back at once.
	start := time.Now()
	runtime.Gosched()
	return time.Since(start).Seconds() > d.threshold
}

// StarvedSince reports whether the process is starved now, or was found
// starved at any sample since t: a timeout whose bound began at t and
// overlapped a starved spell says nothing about the store, even when the
// spell ended before the deadline passed. (Only Starved's answer was used
// before, and a burst of timeouts straddling a spell's end opened the
// breaker: 5 of 957 in TestStarvedClientIsNotAnOutage beside three
// CPU-burning loops.)
func (d *Detector) StarvedSince(t time.Time) bool {
	if d.Starved() {
		return true
	}
	last := d.lastStarved.Load()
	return last != 0 && last >= t.UnixNano()
}

func (d *Detector) sample() {
	s := []metrics.Sample{{Name: name}}
	var prev []uint64
	t := time.NewTicker(period)
	defer t.Stop()
	late := false // this goroutine woke late: its thread, or the whole process, waited for a CPU
	for {
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindFloat64Histogram {
			d.running.Store(false)
			return
		}
		h := s[0].Value.Float64Histogram()
		if prev != nil {
			var total, lateWakeups uint64
			for i, c := range h.Counts {
				n := c - prev[i]
				total += n
				if lo := h.Buckets[i]; lo >= d.threshold && !math.IsInf(lo, -1) {
					lateWakeups += n
				}
			}
			starved := late || total > 0 && lateWakeups*100 > total
			d.starved.Store(starved)
			if starved {
				d.lastStarved.Store(time.Now().UnixNano())
			}
		}
		prev = append(prev[:0], h.Counts...)
		if time.Since(time.Unix(0, d.asked.Load())) > idle {
			d.starved.Store(false)
			d.running.Store(false)
			return
		}
		due := time.Now().Add(period)
		<-t.C
		// The scheduler's histogram does not see a process whose threads
		// the kernel keeps off the CPU (another program burning it); a
		// tick that arrives late does.
		// Late by a whole period or the threshold, whichever is more: a
		// tick is never exact, and a busy but healthy machine delays it a
		// little.
		late = time.Since(due).Seconds() > max(d.threshold, period.Seconds())
	}
}
