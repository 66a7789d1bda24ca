package hotkeys

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// A few hot keys among many cold ones are found, in order, with bounded
// memory: the sketch never holds more than its capacity.
func TestTheHotKeysAreFound(t *testing.T) {
	s := New(32, 1)
	r := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		switch x := r.IntN(100); {
		case x < 20:
			s.Add("AAPL")
		case x < 30:
			s.Add("MSFT")
		case x < 35:
			s.Add("TSLA")
		default:
			s.Add(fmt.Sprintf("cold-%d", r.IntN(50000)))
		}
	}
	if len(s.counts) > 32 {
		t.Fatalf("sketch holds %d keys, capacity 32", len(s.counts))
	}
	top := s.Take(3)
	if len(top) != 3 || top[0].Key != "AAPL" || top[1].Key != "MSFT" || top[2].Key != "TSLA" {
		t.Fatalf("top 3: %+v", top)
	}
	// Space-Saving's guarantee: the count less its error is a lower bound
	// of the true count, 40,000 for AAPL (20%).
	if lo := top[0].Count - top[0].Error; lo > 42000 || top[0].Count < 38000 {
		t.Errorf("AAPL count %d (error %d), true count about 40000", top[0].Count, top[0].Error)
	}
	if again := s.Take(3); len(again) != 0 {
		t.Errorf("Take did not start a new window: %+v", again)
	}
}

func TestSampledCountsAreScaled(t *testing.T) {
	s := New(8, 16)
	n := 0
	for range 160000 {
		if s.Sampled() {
			s.Add("hot")
			n++
		}
	}
	if n < 8000 || n > 12000 {
		t.Fatalf("sampled %d of 160000 at 1 in 16", n)
	}
	if got := s.Take(1)[0].Count; got != uint64(n)*16 {
		t.Fatalf("count %d, want the sampled %d × 16", got, n)
	}
}

func TestConcurrentAdds(t *testing.T) {
	s := New(16, 1)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10000 {
				s.Add(fmt.Sprint("k", (g*i)%40))
			}
		}()
	}
	wg.Wait()
	var total uint64
	for _, k := range s.Take(100) {
		total += k.Count
	}
	if total != 80000 {
		t.Fatalf("counts add up to %d, want every one of 80000 adds", total)
	}
}

func BenchmarkSampledAdd(b *testing.B) {
	s := New(64, 32)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint("sym-", i)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if s.Sampled() {
				s.Add(keys[i%len(keys)])
			}
			i++
		}
	})
}

// A batch is sampled key by key as single reads are, and counted under
// the batch's prefix.
func TestAddSampledCountsABatch(t *testing.T) {
	s := New(8, 1)
	s.AddSampled("ns:", []string{"a", "b", "a"})
	got := s.Take(8)
	if len(got) != 2 || got[0].Key != "ns:a" || got[0].Count != 2 || got[1].Key != "ns:b" || got[1].Count != 1 {
		t.Fatalf("Take after AddSampled = %+v", got)
	}
	never := New(8, 1<<31)
	for range 100 {
		never.AddSampled("ns:", []string{"a"})
	}
	if n := len(never.Take(8)); n > 1 {
		t.Fatalf("1 in 2^31 sampling kept %d keys of 100 reads", n)
	}
}

// A batch draws its sample once (a random first key, then every 16th), and
// each key of it, wherever it stands in the batch, is still sampled one
// time in 16: over 3,200 batches of the same 32 keys, each is counted
// about 200 times (Binomial(3200, 1/16): 6 standard deviations are ±80).
func TestAddSampledGivesEveryPositionItsChance(t *testing.T) {
	s := New(64, 16)
	keys := make([]string, 32)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
	}
	for range 3200 {
		s.AddSampled("", keys)
	}
	got := s.Take(64)
	if len(got) != len(keys) {
		t.Fatalf("%d keys counted of %d", len(got), len(keys))
	}
	for _, k := range got {
		if n := k.Count / 16; n < 120 || n > 280 {
			t.Fatalf("%s sampled %d times in 3,200 batches, want about 200: %+v", k.Key, n, got)
		}
	}
}

// The Space-Saving bounds hold for every held key after many evictions
// (each count at least the key's true count, less its error at most),
// and a key not held was read no more often than the smallest count
// held: the entry that gives up its place is one of the smallest.
func TestEvictionsKeepTheSketchsBounds(t *testing.T) {
	s := New(16, 1)
	r := rand.New(rand.NewPCG(5, 6))
	truth := map[string]uint64{}
	for range 50000 {
		k := fmt.Sprint("k", int(r.ExpFloat64()*40)) // skewed, with a long tail
		truth[k]++
		s.AddNamed("ns:", k)
	}
	var least uint64 = 1 << 63
	for name, e := range s.counts {
		n := truth[name[len("ns:"):]]
		if e.count < n || e.count-e.err > n {
			t.Fatalf("%s: count %d, error %d, true %d: want count-error <= true <= count", name, e.count, e.err, n)
		}
		least = min(least, e.count)
		if s.low[e.at] != e {
			t.Fatalf("%s is not at its own index %d in the heap", name, e.at)
		}
	}
	if least != s.low[0].count {
		t.Fatalf("the heap's first entry counts %d, the least held %d", s.low[0].count, least)
	}
	for k, n := range truth {
		if _, held := s.counts["ns:"+k]; !held && n > least {
			t.Fatalf("%s read %d times is not held, while the least held counts %d", k, n, least)
		}
	}
}

// Counting a key already held builds no string for it.
func TestAHeldKeyIsCountedWithoutAllocating(t *testing.T) {
	s := New(4, 1)
	s.AddNamed("quotes:", "AAPL")
	if n := testing.AllocsPerRun(100, func() { s.AddNamed("quotes:", "AAPL") }); n != 0 {
		t.Fatalf("counting a held key allocated %v times", n)
	}
	if s.counts["quotes:AAPL"].count != 102 { // 1, and AllocsPerRun's warm-up and 100 runs
		t.Fatalf("count %d, want 102", s.counts["quotes:AAPL"].count)
	}
}

// Mostly keys not held: every add evicts, as with a trading desk's
// thousands of symbols.
func BenchmarkAddManyKeys(b *testing.B) {
	s := New(64, 1)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint("sym-", i)
	}
	b.ReportAllocs()
	for i := range b.N {
		s.AddNamed("quotes:", keys[i*7%len(keys)])
	}
}
