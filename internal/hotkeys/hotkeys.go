// Package hotkeys finds the most-read keys of a process: a Space-Saving
// sketch (Metwally, Agrawal and El Abbadi, 2005) over a sample of reads.
// It answers "which symbol is hammering Redis?" in bounded memory:
// capacity entries, however many distinct keys are read, with every key
// read more than 1/capacity of the sampled reads guaranteed to be held,
// and each count over-estimated by at most the count it inherited.
package hotkeys

import (
	"container/heap"
	"math/rand/v2"
	"sort"
	"sync"
)

// Sketch counts sampled reads. The zero value is not usable: use New.
// It is safe for concurrent use.
type Sketch struct {
	every  uint32 // sample one read in every
	mu     sync.Mutex
	cap    int
	counts map[string]*entry
	// low holds the entries least count first, so that a key that is not
	// held takes the place of the smallest at once. Finding it by a scan of
	// every entry cost a full sketch's worth of map iteration for each
	// sampled read of a key not held, which is most of them when many
	// keys are read (a trading desk's thousands of symbols): about 4% of
	// a 100-key GetMany's CPU with 1,000 keys.
	low     byCount
	scratch []byte // prefix+key, to look a held key up without a new string
}

type entry struct {
	key   string
	count uint64
	err   uint64 // the count this entry inherited from the key it replaced
	at    int    // its index in low
}

// byCount is a min-heap of entries by count (container/heap).
type byCount []*entry

func (h byCount) Len() int           { return len(h) }
func (h byCount) Less(i, j int) bool { return h[i].count < h[j].count }
func (h byCount) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].at, h[j].at = i, j
}
func (h *byCount) Push(x any) {
	e := x.(*entry)
	e.at = len(*h)
	*h = append(*h, e)
}
func (h *byCount) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// Key is a hot key and its estimated reads in the window: Count is at
// most Error above the true sampled count, and both are scaled back by
// the sampling rate.
type Key struct {
	Key   string
	Count uint64
	Error uint64
}

// New returns a sketch that holds capacity keys and samples one read in
// every (1 samples every read).
func New(capacity int, every uint32) *Sketch {
	return &Sketch{every: max(every, 1), cap: max(capacity, 1), counts: make(map[string]*entry, capacity)}
}

// Sampled reports whether this read is one to count: a random draw, so
// that a key read in lock-step with others is not always skipped. It is
// the cheap test callers make before building a key for Add.
func (s *Sketch) Sampled() bool { return s.every == 1 || rand.Uint32N(s.every) == 0 }

// Add counts one sampled read of key. When the sketch is full, the key
// with the smallest count gives up its place, and key inherits that count
// (the Space-Saving step).
func (s *Sketch) Add(key string) { s.AddNamed("", key) }

// AddNamed is Add of prefix+key, which it builds only when that key is
// not already held.
func (s *Sketch) AddNamed(prefix, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add(prefix, key)
}

func (s *Sketch) add(prefix, key string) {
	s.scratch = append(append(s.scratch[:0], prefix...), key...)
	if e, ok := s.counts[string(s.scratch)]; ok { // no allocation for the lookup
		e.count++
		heap.Fix(&s.low, e.at)
		return
	}
	name := string(s.scratch)
	if len(s.counts) < s.cap {
		e := &entry{key: name, count: 1}
		s.counts[name] = e
		heap.Push(&s.low, e)
		return
	}
	e := s.low[0] // the smallest count gives up its place, and its entry
	delete(s.counts, e.key)
	e.key, e.err = name, e.count
	e.count++
	s.counts[name] = e
	heap.Fix(&s.low, 0)
}

// AddSampled samples one in every of keys and counts the sampled ones,
// named prefix+key, under one lock: a batch of 100 reads takes the lock
// once, not once per sampled key. It draws once per batch, a random first
// key and then every every-th, where Sampled would draw once per key: each
// key of a batch is still sampled with the same chance.
func (s *Sketch) AddSampled(prefix string, keys []string) {
	start := 0
	if s.every > 1 {
		start = int(rand.Uint32N(s.every))
	}
	if start >= len(keys) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := start; i < len(keys); i += int(s.every) {
		s.add(prefix, keys[i])
	}
}

// Take returns the n keys with the highest counts, highest first, and
// starts a new window: a hot key is hot now, not since the process began.
func (s *Sketch) Take(n int) []Key {
	s.mu.Lock()
	counts := s.counts
	s.counts = make(map[string]*entry, s.cap)
	s.low = nil
	s.mu.Unlock()
	out := make([]Key, 0, len(counts))
	for _, e := range counts {
		out = append(out, Key{e.key, e.count * uint64(s.every), e.err * uint64(s.every)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
