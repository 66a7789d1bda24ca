package tradecache

import "github.com/tradecache/tradecache/codec"

// knownValue is a value this process last knew a key to have, with its
// stamp: what get-or-load serves within MaxStale when the store cannot be
// reached (Cache.known holds them).
type knownValue struct {
	v  any
	st codec.Stamp
}

// loaded is the outcome of one load that every caller waiting on it
// shares (Cache.flights runs them).
type loaded struct {
	v    any
	meta Meta
}
