package hist

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// Merging the sparse forms of two histograms gives the percentiles of one
// histogram that recorded every sample: what averaging cannot.
func TestSparseMergeIsTheHistogramOfTheUnion(t *testing.T) {
	var a, b, all Histogram
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		d := time.Duration(r.ExpFloat64() * float64(200*time.Microsecond))
		a.Record(d)
		all.Record(d)
	}
	for range 500 {
		d := 50*time.Millisecond + time.Duration(r.IntN(int(time.Millisecond)))
		b.Record(d)
		all.Record(d)
	}
	m := a.Sparse()
	m.Merge(b.Sparse())
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		if got, want := m.Quantile(q), all.Quantile(q); got != want {
			t.Errorf("q%.3f: merged %v, one histogram %v", q, got, want)
		}
	}
	if m.Count != all.Count() || m.Mean() != all.Mean() || m.Max != int64(all.Max()) {
		t.Errorf("merged count/mean/max %d/%v/%d, want %d/%v/%v", m.Count, m.Mean(), m.Max, all.Count(), all.Mean(), all.Max())
	}
	// The p99 of the union is in b's range; the average of the two p99s
	// is nowhere near it.
	if p99 := m.Quantile(0.99); p99 < 2*time.Millisecond {
		t.Errorf("merged p99 %v: the slow instance's samples were lost", p99)
	}
}

func TestSparseSinceIsTheInterval(t *testing.T) {
	var h Histogram
	for range 100 {
		h.Record(time.Millisecond)
	}
	before := h.Sparse()
	for range 10 {
		h.Record(40 * time.Millisecond)
	}
	d := h.Sparse().Since(before)
	if d.Count != 10 || d.Quantile(0.5) < 39*time.Millisecond {
		t.Fatalf("interval: count %d p50 %v, want 10 and about 40ms", d.Count, d.Quantile(0.5))
	}
	if err := d.Check(); err != nil {
		t.Fatal(err)
	}
}

// A sparse histogram read from another process is untrusted.
func TestSparseCheckRefusesWhatNoHistogramGives(t *testing.T) {
	for name, text := range map[string]string{
		"index out of range": `{"b":[[99999,1]],"n":1,"max_ns":5}`,
		"not ascending":      `{"b":[[5,1],[5,1]],"n":2,"max_ns":5}`,
		"empty bucket":       `{"b":[[5,0]],"n":0,"max_ns":5}`,
		"absurd count":       `{"b":[[5,18446744073709551615]],"n":18446744073709551615,"max_ns":5}`,
		"count not the sum":  `{"b":[[5,1]],"n":7,"max_ns":5}`,
		"negative sum":       `{"b":[[5,1]],"n":1,"sum_ns":-1,"max_ns":5}`,
		"max below buckets":  `{"b":[[4000,1]],"n":1,"max_ns":1}`,
	} {
		var s Sparse
		if err := json.Unmarshal([]byte(text), &s); err != nil {
			t.Fatal(name, err)
		}
		if s.Check() == nil {
			t.Errorf("%s: Check accepted %s", name, text)
		}
	}
	var h Histogram
	h.Record(3 * time.Second)
	if err := h.Sparse().Check(); err != nil {
		t.Errorf("a real histogram's sparse form: %v", err)
	}
}

func TestSparseMergeSaturates(t *testing.T) {
	s := Sparse{Buckets: [][2]uint64{{1, maxCount}}, Count: maxCount, Max: 1}
	for range 70000 {
		s.Merge(Sparse{Buckets: [][2]uint64{{1, maxCount}}, Count: maxCount, Max: 1})
	}
	if s.Count < maxCount || s.Buckets[0][1] < maxCount {
		t.Fatalf("merged counts wrapped: %d", s.Count)
	}
}
