package mono

import (
	"sync/atomic"
	"testing"
	"time"
)

// Readings move forward, Time turns them back into wall-clock times, and
// CountReads counts every read until it is stopped.
func TestReadingsAndTheirCount(t *testing.T) {
	var n atomic.Int64
	stop := CountReads(&n)
	a := Now()
	b := Now()
	stop()
	Now()
	if n.Load() != 2 {
		t.Fatalf("counted %d reads, want 2 (the one after stop is not counted)", n.Load())
	}
	if b < a {
		t.Fatalf("the clock went back: %v then %v", a, b)
	}
	if d := time.Until(Time(Now())); d > time.Millisecond || d < -time.Millisecond {
		t.Fatalf("Time(Now()) is %v from now", d)
	}
}

// A reading, beside time.Now (the figures in the package comment):
// go test -run '^$' -bench . ./internal/mono
func BenchmarkNow(b *testing.B) {
	var d time.Duration
	for range b.N {
		d += Now()
	}
	_ = d
}

func BenchmarkTimeNow(b *testing.B) {
	var t time.Time
	for range b.N {
		t = time.Now()
	}
	_ = t
}
