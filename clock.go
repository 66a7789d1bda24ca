package tradecache

import "time"

// Clock tells a Cache the time. The Cache reads it for every decision that
// depends on the time: a value's freshness and staleness, early refresh,
// negative caching, the near tier's expiry and own-write window, and the
// TTLs of the in-memory store it builds. Latencies are measured with the
// system clock whatever Clock says, and Redis keeps its own clock for the
// TTLs it enforces.
//
// The default is the system clock. A test that gives a Cache a clock it
// moves by hand (WithClock) checks time-dependent behaviour without
// sleeping.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
