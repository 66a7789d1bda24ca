package hist

import (
	"errors"
	"math"
	"math/bits"
	"time"
)

// Sparse is a histogram's non-empty buckets, in ascending order of bucket:
// the form in which a process publishes its latencies, so that another
// process can merge many of them and compute percentiles of the whole,
// which averaging percentiles cannot give. A busy histogram has a few
// dozen non-empty buckets out of 4,352.
//
// A Sparse read from elsewhere is untrusted: Check it before use.
type Sparse struct {
	Buckets [][2]uint64 `json:"b"`      // [bucket index, count], ascending by index, counts > 0
	Count   uint64      `json:"n"`      // the sum of the counts
	Sum     int64       `json:"sum_ns"` // the sum of the samples
	Max     int64       `json:"max_ns"` // the largest sample
}

// Sparse returns h's non-empty buckets. Count is the sum of the buckets
// read, so that it agrees with them even while samples are recorded.
func (h *Histogram) Sparse() Sparse {
	s := Sparse{Sum: h.sum.Load(), Max: h.max.Load()}
	for i := range h.counts {
		if n := h.counts[i].Load(); n > 0 {
			s.Buckets = append(s.Buckets, [2]uint64{uint64(i), n})
			s.Count += n
		}
	}
	return s
}

// maxCount bounds a bucket's count in a Sparse read from elsewhere: far
// more samples than a process records in a century, small enough that the
// sums of many merged histograms do not wrap.
const maxCount = 1 << 48

// Check reports why s cannot be a histogram's sparse form: a bucket out of
// range, out of order, empty or with an absurd count, a Count that is not
// the buckets' sum, or a negative Sum or Max.
func (s Sparse) Check() error {
	var total uint64
	prev := -1
	for _, b := range s.Buckets {
		switch {
		case b[0] >= buckets:
			return errors.New("hist: bucket index out of range")
		case int(b[0]) <= prev:
			return errors.New("hist: buckets not in ascending order")
		case b[1] == 0 || b[1] > maxCount:
			return errors.New("hist: bucket count out of range")
		}
		prev = int(b[0])
		total += b[1]
	}
	switch {
	case total != s.Count:
		return errors.New("hist: count is not the sum of the buckets")
	case s.Sum < 0 || s.Max < 0:
		return errors.New("hist: negative sum or max")
	case s.Count > 0 && s.Max < int64(lower(prev)):
		return errors.New("hist: max below the highest bucket")
	}
	return nil
}

// Merge adds o's samples to s.
func (s *Sparse) Merge(o Sparse) {
	out := make([][2]uint64, 0, max(len(s.Buckets), len(o.Buckets)))
	i, j := 0, 0
	for i < len(s.Buckets) || j < len(o.Buckets) {
		switch {
		case j == len(o.Buckets) || i < len(s.Buckets) && s.Buckets[i][0] < o.Buckets[j][0]:
			out = append(out, s.Buckets[i])
			i++
		case i == len(s.Buckets) || o.Buckets[j][0] < s.Buckets[i][0]:
			out = append(out, o.Buckets[j])
			j++
		default:
			out = append(out, [2]uint64{s.Buckets[i][0], satAdd(s.Buckets[i][1], o.Buckets[j][1])})
			i++
			j++
		}
	}
	s.Buckets = out
	s.Count = satAdd(s.Count, o.Count)
	if s.Sum > math.MaxInt64-o.Sum {
		s.Sum = math.MaxInt64
	} else {
		s.Sum += o.Sum
	}
	s.Max = max(s.Max, o.Max)
}

// Since returns the samples s holds that earlier did not: the histogram of
// an interval, from two snapshots of one histogram. Max is s's, which may
// be from before the interval; it only caps the percentiles.
func (s Sparse) Since(earlier Sparse) Sparse {
	d := Sparse{Sum: max(s.Sum-earlier.Sum, 0), Max: s.Max}
	j := 0
	for _, b := range s.Buckets {
		for j < len(earlier.Buckets) && earlier.Buckets[j][0] < b[0] {
			j++
		}
		n := b[1]
		if j < len(earlier.Buckets) && earlier.Buckets[j][0] == b[0] {
			n -= min(n, earlier.Buckets[j][1])
		}
		if n > 0 {
			d.Buckets = append(d.Buckets, [2]uint64{b[0], n})
			d.Count += n
		}
	}
	return d
}

// Quantile returns the q-quantile (0 < q <= 1) as Histogram.Quantile does:
// the upper bound of its bucket, capped at Max.
func (s Sparse) Quantile(q float64) time.Duration {
	if s.Count == 0 {
		return 0
	}
	rank := max(uint64(q*float64(s.Count)+0.5), 1)
	var seen uint64
	for _, b := range s.Buckets {
		seen += b[1]
		if seen >= rank {
			if i := int(b[0]); i < buckets-1 {
				return min(time.Duration(lower(i+1)-1), time.Duration(s.Max))
			}
			break
		}
	}
	return time.Duration(s.Max)
}

// Mean returns the average sample, or 0.
func (s Sparse) Mean() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return time.Duration(uint64(s.Sum) / s.Count)
}

func satAdd(a, b uint64) uint64 {
	if sum, carry := bits.Add64(a, b, 0); carry == 0 {
		return sum
	}
	return math.MaxUint64
}
