package trading

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/tradecache/tradecache"
)

// marks holds each Cache's high-water marks, so that every Market over one
// Cache shares them (a Market made after a restore must refuse what an
// earlier one saw go past). Keyed by a weak pointer, and deleted when the
// Cache is collected: a process that makes many Caches does not keep their
// marks.
var marks sync.Map // weak.Pointer[tradecache.Cache] -> *highWater

// highWaterOf returns c's marks, made on first use with ttl.
func highWaterOf(c *tradecache.Cache, ttl time.Duration) *highWater {
	wp := weak.Make(c)
	if x, ok := marks.Load(wp); ok {
		return x.(*highWater)
	}
	h := newHighWater(ttl)
	if x, loaded := marks.LoadOrStore(wp, h); loaded {
		return x.(*highWater)
	}
	runtime.AddCleanup(c, func(wp weak.Pointer[tradecache.Cache]) { marks.Delete(wp) }, wp)
	return h
}

// highWater remembers the highest version this process read or wrote per
// key, for as long as Redis keeps a version record (the namespace's TTL):
// past that, Redis itself accepts any version again (a feed that restarts
// its sequence at the start of a day), and so does this. It sits on the
// near-hit path of every quote: a read of the version already marked costs
// two atomic loads and no clock read.
type highWater struct {
	ttl int64 // nanoseconds
	m   sync.Map
}

// mark is a key's high-water version and when it was raised.
type mark struct {
	v  atomic.Uint64
	at atomic.Int64 // unix nanoseconds
}

func newHighWater(ttl time.Duration) *highWater { return &highWater{ttl: int64(ttl)} }

// seen is a mark as it stood at one moment: what a read compares with is
// what the process had seen when the read began (a write that lands while
// the read is in flight is concurrent with it).
type seen struct {
	v  uint64
	at int64
}

// get returns key's mark as it stands now (zero for none).
func (h *highWater) get(key string) seen {
	x, ok := h.m.Load(key)
	if !ok {
		return seen{}
	}
	mk := x.(*mark)
	return seen{mk.v.Load(), mk.at.Load()}
}

// refuses reports whether s refuses version v: v is lower, and s had not
// lapsed. Only a lower v costs a clock read.
func (h *highWater) refuses(s seen, v uint64) bool {
	return v < s.v && time.Now().UnixNano()-s.at <= h.ttl
}

// raise records v for key if it is higher than the mark, or the mark has
// lapsed (a lower v is raised only by a caller that refuses found it
// lapsed).
func (h *highWater) raise(key string, v uint64) {
	x, ok := h.m.Load(key)
	if !ok {
		mk := &mark{}
		mk.v.Store(v)
		mk.at.Store(time.Now().UnixNano())
		if x, ok = h.m.LoadOrStore(key, mk); !ok {
			return
		}
	}
	mk := x.(*mark)
	for {
		old := mk.v.Load()
		if v == old {
			return // the common read: nothing to do
		}
		now := time.Now().UnixNano()
		if v < old && now-mk.at.Load() <= h.ttl {
			return
		}
		if mk.v.CompareAndSwap(old, v) {
			mk.at.Store(now)
			return
		}
	}
}
