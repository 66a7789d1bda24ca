// Package clock holds a clock that tests move by hand.
//
// A Cache reads the time through tradecache.Clock for every decision that
// depends on it (freshness, staleness, early refresh, the near tier's
// expiry and own-write window, the in-memory store's TTLs), so a test that
// moves a Fake checks those decisions without sleeping and without
// depending on how busy the machine is. Latencies are still measured with
// the real clock.
package clock

import (
	"sync"
	"time"
)

// Fake is a clock that stands still until Advance or Set moves it. The
// zero value reads as the Unix epoch; New starts it at a given time.
type Fake struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Fake reading t.
func New(t time.Time) *Fake { return &Fake{t: t} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// Advance moves the clock by d (backwards for a negative d, as a clock
// stepped by NTP can).
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// Set moves the clock to t.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.t = t
	f.mu.Unlock()
}
