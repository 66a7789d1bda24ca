// Package hotkeys finds the most-read keys of a process: a Space-Saving
// sketch (Metwally, Agrawal and El Abbadi, 2005) over a sample of reads.
// It answers "which symbol is hammering Redis?" in bounded memory:
// capacity entries, however many distinct keys are read, with every key
// read more than 1/capacity of the sampled reads guaranteed to be held,
// and each count over-estimated by at most the count it inherited.
package hotkeys

import (
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
}

type entry struct {
	key   string
	count uint64
	err   uint64 // the count this entry inherited from the key it replaced
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
func (s *Sketch) Add(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add(key)
}

func (s *Sketch) add(key string) {
	if e, ok := s.counts[key]; ok {
		e.count++
		return
	}
	if len(s.counts) < s.cap {
		s.counts[key] = &entry{key: key, count: 1}
		return
	}
	var low *entry
	for _, e := range s.counts { // capacity is small: a scan is cheaper than a heap's upkeep
		if low == nil || e.count < low.count {
			low = e
		}
	}
	delete(s.counts, low.key)
	s.counts[key] = &entry{key: key, count: low.count + 1, err: low.count}
}

// AddSampled samples one in every of keys and counts the sampled ones,
// named prefix+key, under one lock: a batch of 100 reads takes the lock
// once, not once per sampled key. It draws once per batch, a random first
// key and then every every-th, where Sampled would draw once per key: each
// key of a batch is still sampled with the same chance.
func (s *Sketch) AddSampled(prefix string, keys []string) {
	var buf [8]string
	picked := buf[:0]
	start := 0
	if s.every > 1 {
		start = int(rand.Uint32N(s.every))
	}
	for i := start; i < len(keys); i += int(s.every) {
		picked = append(picked, prefix+keys[i])
	}
	if len(picked) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range picked {
		s.add(k)
	}
}

// Take returns the n keys with the highest counts, highest first, and
// starts a new window: a hot key is hot now, not since the process began.
func (s *Sketch) Take(n int) []Key {
	s.mu.Lock()
	counts := s.counts
	s.counts = make(map[string]*entry, s.cap)
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
