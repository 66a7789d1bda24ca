package hist

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestQuantilesWithinBucketError(t *testing.T) {
	var h Histogram
	samples := make([]time.Duration, 100000)
	for i := range samples {
		samples[i] = time.Duration(rand.ExpFloat64() * float64(50*time.Microsecond))
		h.Record(samples[i])
	}
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := samples[int(q*float64(len(samples)))-1]
		got := h.Quantile(q)
		if diff := float64(got-want) / float64(want); diff < -0.01 || diff > 0.01 {
			t.Errorf("p%v = %v, exact %v (%.1f%% off)", q*100, got, want, diff*100)
		}
	}
	if h.Count() != 100000 || h.Max() != samples[len(samples)-1] {
		t.Fatalf("Count %d Max %v", h.Count(), h.Max())
	}
}

func TestMeanAndCumulativeCounts(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{10 * time.Microsecond, 20 * time.Microsecond, 30 * time.Microsecond, time.Millisecond} {
		h.Record(d)
	}
	if h.Mean() != (1060*time.Microsecond)/4 || h.Sum() != 1060*time.Microsecond {
		t.Fatalf("mean %v sum %v", h.Mean(), h.Sum())
	}
	if n := h.CountAtMost(25 * time.Microsecond); n != 2 {
		t.Fatalf("CountAtMost(25µs) = %d, want 2", n)
	}
	if n := h.CountAtMost(time.Second); n != 4 {
		t.Fatalf("CountAtMost(1s) = %d, want 4", n)
	}
}

func TestBucketsAreContiguous(t *testing.T) {
	for i := 0; i < buckets-1; i++ {
		if index(lower(i)) != i || index(lower(i+1)-1) != i {
			t.Fatalf("bucket %d: [%d, %d) maps to %d..%d", i, lower(i), lower(i+1), index(lower(i)), index(lower(i+1)-1))
		}
	}
	var h Histogram
	if h.Quantile(0.99) != 0 {
		t.Fatal("empty histogram quantile != 0")
	}
}

// Record at 50 goroutines: every call of the layer records one or two
// samples (go test -run '^$' -bench RecordParallel ./internal/hist).
func BenchmarkRecordParallel(b *testing.B) {
	var h Histogram
	b.SetParallelism(25)
	b.RunParallel(func(pb *testing.PB) {
		d := time.Duration(4000)
		for pb.Next() {
			h.Record(d)
			d ^= 1
		}
	})
}

// Concurrent recorders lose nothing from the striped sum: the sum, the
// count and the mean agree with what was recorded.
func TestConcurrentRecordsSumExactly(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10000 {
				h.Record(time.Duration(g*10000 + i))
			}
		})
	}
	wg.Wait()
	const n = 80000
	if h.Count() != n || h.Sum() != time.Duration(n*(n-1)/2) || h.Mean() != time.Duration((n-1)/2) {
		t.Fatalf("count %d sum %d mean %d, want %d, %d, %d", h.Count(), h.Sum(), h.Mean(), n, n*(n-1)/2, (n-1)/2)
	}
}
