package trading

import (
	"sync"
	"sync/atomic"
	"time"
)

// highWater remembers the highest version this process read or wrote per
// key, for as long as Redis keeps a version record (the namespace's TTL):
// past that, Redis itself accepts any version again (a feed that restarts
// its sequence at the start of a day), and so does this. Reads are
// lock-free: it sits on the near-hit path of every quote.
type highWater struct {
	ttl int64 // nanoseconds
	m   sync.Map
}

// mark is a key's high-water version and when it was last raised.
type mark struct {
	v  atomic.Uint64
	at atomic.Int64 // unix nanoseconds
}

func newHighWater(ttl time.Duration) *highWater { return &highWater{ttl: int64(ttl)} }

// get returns key's high-water version, or 0 once it is older than the TTL.
func (h *highWater) get(key string) uint64 {
	x, ok := h.m.Load(key)
	if !ok {
		return 0
	}
	mk := x.(*mark)
	if time.Now().UnixNano()-mk.at.Load() > h.ttl {
		return 0
	}
	return mk.v.Load()
}

// raise records v for key if it is the highest yet, or the old mark has
// lapsed.
func (h *highWater) raise(key string, v uint64) {
	now := time.Now().UnixNano()
	x, ok := h.m.Load(key)
	if !ok {
		mk := &mark{}
		mk.v.Store(v)
		mk.at.Store(now)
		if x, ok = h.m.LoadOrStore(key, mk); !ok {
			return
		}
	}
	mk := x.(*mark)
	for {
		old := mk.v.Load()
		lapsed := now-mk.at.Load() > h.ttl
		if v < old && !lapsed {
			return
		}
		if mk.v.CompareAndSwap(old, v) {
			mk.at.Store(now)
			return
		}
	}
}
