package tradecache

import (
	"time"

	"github.com/tradecache/tradecache/internal/flight"
	"github.com/tradecache/tradecache/internal/hotkeys"
	"github.com/tradecache/tradecache/store"
	"github.com/tradecache/tradecache/store/guard"
)

// backend is the store below a Cache and what goes with it: what the
// store offers, the clock, the observer, and the bounds every path keeps.
// The Cache and every namespace's path share one.
type backend struct {
	store    store.Store
	cached   store.CachedReader   // the store's tracked reads; nil when it has none
	releases store.ReleaseWatcher // wakes lock waiters; nil when the store cannot
	guard    *guard.Store         // deadlines and breakers; nil on the in-process store
	owns     bool                 // the Cache made the store, and closes it
	kind     string               // what Cache.Backend says
	topology string               // for Redis: standalone, sentinel or cluster
	desc     store.Description
	clock    Clock
	obs      *observer
	batch    int // MaxBatchSize: keys per round trip
	maxValue int // MaxValueBytes
	// hot samples the keys read from the store, for the published stats;
	// nil when they are not published.
	hot *hotkeys.Sketch
	// streams is the store's stream operations (guarded), nil when it
	// keeps none.
	streams      store.Streams
	streamCounts streamCounters
	known        *flight.Known[knownValue] // the Cache's last known values
	tags         *tagState                 // the tokens of tags this process has read
	inval        *invalQueue               // invalidations waiting for the store (durable invalidation)
}

// now is the Cache's time.
func (b *backend) now() time.Time { return b.clock.Now() }
