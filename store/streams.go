package store

import (
	"context"
	"errors"
	"time"
)

// Streams is implemented by stores that keep, beside a value, a log of its
// versions (the Redis store: a Redis Stream in the value's hash slot), so
// that a feed can give a consistent snapshot, then every later update with
// no gap, replay a window, and share work between consumers.
//
// Every stream entry carries the value's version, its envelope, and the ID
// of the entry before it in the same stream ("" for the first): a reader
// that holds the previous entry's ID knows it missed nothing, and one that
// does not knows it fell behind the retained window.
type Streams interface {
	// Publish stores value under key with version in verKey, as
	// SetIfNewer does, and appends the update to stream, in one atomic
	// step; neither happens for a version not above the stored one. The
	// version key then also records the entry's ID. Retention trims the
	// stream in the same step. All three keys share a slot on a cluster.
	Publish(ctx context.Context, p Publication) (applied bool, id string, err error)
	// PublishMany is Publish for many keys, pipelined: one round trip
	// (one per node on a cluster). The results are in order.
	PublishMany(ctx context.Context, ps []Publication) ([]PublishResult, error)
	// Snapshot reads key's value, its version and the ID of the stream's
	// last entry, atomically: an update published after it is an entry
	// after that ID. found is false when key has no value; the ID is then
	// still the stream's last ("" when it has none).
	Snapshot(ctx context.Context, key, verKey, stream string) (Snap, error)
	// Read returns the entries after ids[i] of streams[i], at most count
	// per stream, waiting up to block (0: not at all) when there are none.
	// On a cluster the streams must share a slot.
	Read(ctx context.Context, streams, ids []string, count int, block time.Duration) ([][]StreamEntry, error)
	// Range returns the entries of stream from start to end, inclusive
	// ("-" and "+" are the ends), at most count.
	Range(ctx context.Context, stream, start, end string, count int) ([]StreamEntry, error)
	// GroupRead reads new entries for consumer in group (creating the
	// group, at the stream's start, when it is missing), waiting up to
	// block.
	GroupRead(ctx context.Context, stream, group, consumer string, count int, block time.Duration) ([]StreamEntry, error)
	// Ack acknowledges entries of group.
	Ack(ctx context.Context, stream, group string, ids ...string) error
	// Claim takes entries pending on other consumers of group for at
	// least minIdle (XAUTOCLAIM from start), and reports how many times
	// each has been delivered, this delivery included. next is where the
	// next Claim starts ("0-0" when the scan is done).
	Claim(ctx context.Context, stream, group, consumer string, minIdle time.Duration, start string, count int) (entries []StreamEntry, next string, err error)
	// DeadLetter appends entry to dead with reason, and acknowledges it in
	// group, in one step.
	DeadLetter(ctx context.Context, stream, group, dead string, entry StreamEntry, reason string) error
	// Pending counts the entries delivered to group and not acknowledged.
	Pending(ctx context.Context, stream, group string) (int64, error)
}

// Publication is one Publish.
type Publication struct {
	Key, VerKey, Stream string
	Value               []byte
	Version             uint64
	TTL                 time.Duration // of the value and its version key
	Retention           Retention
	// Replicas, when above 0, makes Publish wait (WAIT) until that many
	// replicas have the update, for at most ReplicaTimeout, and fail with
	// ErrNotReplicated when fewer did: the update is applied on the
	// master, but a failover may lose it.
	Replicas       int
	ReplicaTimeout time.Duration
}

// ErrNotReplicated is returned by a Publish that asked for replicas' acknowledgement
// and got fewer: the update was applied on the master and may be lost in a
// failover.
var ErrNotReplicated = errors.New("tradecache: not acknowledged by enough replicas")

// Retention bounds a stream: at most MaxLen entries (trimmed
// approximately, "MAXLEN ~", which Redis does cheaply by whole nodes), and
// none older than MaxAge. Zero fields do not bound.
type Retention struct {
	MaxLen int64
	MaxAge time.Duration
}

// PublishResult is one Publish's outcome in PublishMany.
type PublishResult struct {
	Applied bool
	ID      string
	Err     error
}

// Snap is what Snapshot read.
type Snap struct {
	Value   []byte
	Version uint64
	LastID  string
	Found   bool
}

// StreamEntry is one entry of a stream.
type StreamEntry struct {
	ID      string
	Version uint64
	Value   []byte
	Prev    string // the ID of the entry before it when it was appended
	// Deliveries is how many times a group has delivered it (Claim and
	// GroupRead); Reason is why it was dead-lettered (in a dead stream).
	Deliveries int64
	Reason     string
}
