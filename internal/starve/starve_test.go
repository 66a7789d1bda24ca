package starve_test

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tradecache/tradecache/internal/leaktest"
	"github.com/tradecache/tradecache/internal/starve"
)

// The sampler stops by itself three seconds after the last question.
func TestMain(m *testing.M) { leaktest.Main(m) }

// With more spinning goroutines than CPUs, and goroutines that keep
// waking up, wake-ups wait: the detector says starved; once the spinning
// stops, it says not.
func TestStarvedUnderCPUBurn(t *testing.T) {
	d := starve.New(2 * time.Millisecond)
	d.Starved() // starts the sampler
	var stop atomic.Bool
	for range 4 * runtime.GOMAXPROCS(0) {
		go func() {
			for !stop.Load() {
			}
		}()
	}
	starved := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !starved; {
		for range 10 {
			time.Sleep(100 * time.Microsecond) // wake-ups that must wait for a P
		}
		starved = d.Starved()
	}
	stop.Store(true)
	if !starved {
		t.Fatal("not starved with 4 spinning goroutines per CPU")
	}
	calm := false
	spellEnded := time.Now()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !calm; {
		time.Sleep(60 * time.Millisecond)
		calm = !d.Starved()
	}
	if !calm {
		t.Fatal("still starved after the spinning stopped")
	}
	// A timeout whose bound began during the spell was delayed by it,
	// though the spell is over now; one that began after it was not.
	if !d.StarvedSince(spellEnded.Add(-time.Second)) {
		t.Fatal("StarvedSince forgot the spell that just ended")
	}
	if d.StarvedSince(time.Now()) {
		t.Fatal("StarvedSince reports a spell after it ended")
	}
	if starve.New(time.Millisecond).StarvedSince(time.Time{}) {
		t.Fatal("a detector that never saw a spell reports one")
	}
}
