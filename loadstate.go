package tradecache

import "github.com/tradecache/tradecache/codec"

// knownValue is a value this process last knew a key to have, with its
// stamp: what get-or-load serves within MaxStale when the store cannot be
// reached (Cache.known holds them).
type knownValue struct {
	v  any
	st codec.Stamp
	// tags are the value's tags and their tokens, nil for an untagged
	// value; a token is "" when the value was loaded while the store
	// could not be asked for it.
	tags []codec.Tag
}

// loaded is the outcome of one load that every caller waiting on it
// shares (Cache.flights runs them).
type loaded struct {
	v    any
	meta Meta
}
