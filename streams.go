package tradecache

import (
	"cmp"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tradecache/tradecache/internal/hist"
	"github.com/tradecache/tradecache/internal/keyslot"
	"github.com/tradecache/tradecache/store"
)

// Streams: beside a value, a log of its versions. Publish stores a
// version-guarded value and appends the update to the key's stream in one
// atomic step; Snapshot reads the value with the ID of the stream's last
// entry at the same instant, so that reading the stream after that ID
// gives every later update, none missed and none twice. Every entry names
// the entry before it, so a reader that falls behind the retained window
// knows it. Consumer groups share the entries between workers, with
// at-least-once delivery. Package trading/feed builds the market-data
// feed on these.
//
// A key's stream and its dead-letter stream share the key's hash slot, so
// that all of it works on a Redis Cluster. The in-memory store keeps
// streams too, with the same semantics (in one process; its streams are
// bounded by their retention, not by MemoryMaxBytes). A store given with
// WithStore that keeps none fails these calls with ErrNoStreams.

// ErrNoStreams is returned by the stream calls on a store that keeps no
// streams (one given with WithStore that does not implement store.Streams).
var ErrNoStreams = errors.New("tradecache: this store keeps no streams")

// HasStreams reports whether the Cache's store keeps streams: Redis and
// the in-memory store do; a store given with WithStore may not, and then
// the stream calls fail with ErrNoStreams.
func (c *Cache) HasStreams() bool { return c.streams != nil }

// DefaultStreamMaxLen bounds a stream when its namespace sets no retention:
// about this many entries are kept (trimmed approximately, which Redis does
// by whole nodes, cheaply).
const DefaultStreamMaxLen = 10000

// StreamEvent is one entry of a key's stream: an update as it was
// published, or (from Snapshot-based readers) the value at a snapshot.
type StreamEvent struct {
	Key     string // the caller's key
	ID      string // the stream entry's ID, "<ms>-<seq>"
	Version uint64
	// Prev is the ID of the entry before this one when it was appended: a
	// reader that holds it missed nothing in between.
	Prev string
	// Deliveries is how many times a consumer group has delivered the
	// entry (StreamGroup.Read and Claim); Reason is why it was dead-lettered.
	Deliveries int64
	Reason     string

	data []byte
	ns   *Namespace
	full string
}

// Decode decodes the event's value into dst, as Get does.
func (e StreamEvent) Decode(dst any) error {
	if e.ns == nil {
		return invalidArg("decode", "", e.Key, "a zero StreamEvent")
	}
	return e.ns.decodePlain(opGet, "get", e.Key, e.full, e.data, dst)
}

// Time is when the entry was appended, by the server's clock (its ID).
func (e StreamEvent) Time() time.Time { return idTime(e.ID) }

// idTime is the time in a stream entry ID, or zero for a malformed one.
func idTime(id string) time.Time {
	ms, _, ok := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// Update is one value to publish with Streams.PublishMany.
type Update struct {
	Key     string
	Value   any
	Version uint64
}

// PublishResult is one Update's outcome: whether it was applied (a version
// not above the stored one is not), the stream entry's ID, or why it
// failed.
type PublishResult struct {
	Applied bool
	ID      string
	Err     error
}

// Stream is the stream of one key of a namespace: beside the key's value,
// the log of its published versions (see the package's Streams notes).
// StreamOf makes one; it costs nothing and may be made per call.
type Stream struct {
	ns  *Namespace
	key string
}

// StreamOf returns key's stream in ns.
func StreamOf(ns *Namespace, key string) Stream { return Stream{ns: ns, key: key} }

// Key is the stream's key in its namespace.
func (s Stream) Key() string { return s.key }

// Group returns the stream's consumer group name: the entries are shared
// between the group's consumers, each delivered to one, at least once.
func (s Stream) Group(name string) StreamGroup { return StreamGroup{s: s, name: name} }

// StreamGroup is a consumer group of one stream (Stream.Group).
type StreamGroup struct {
	s    Stream
	name string
}

// Streams publishes to and reads many streams of a namespace at once:
// what a feed of many symbols does. StreamsOf makes one.
type Streams struct{ ns *Namespace }

// StreamsOf returns the streams of ns.
func StreamsOf(ns *Namespace) Streams { return Streams{ns: ns} }

// Snapshot is what Stream.Snapshot read.
type Snapshot struct {
	Found   bool
	Version uint64
	// LastID is the ID of the stream's last entry at the instant of the
	// read ("" when it has none): read the stream after it.
	LastID string
}

// streamKeys are a key's companions: its stream and its dead letters,
// in its slot.
func streamKeys(full string) (stream, dead string, ok bool) {
	stream, ok = keyslot.Companion(full, " stream")
	if !ok {
		return "", "", false
	}
	dead, _ = keyslot.Companion(full, " dead")
	return stream, dead, true
}

func (n *Namespace) streamKey(op, key string) (full, stream, dead string, err error) {
	if full, err = n.key(op, key); err != nil {
		return "", "", "", err
	}
	stream, dead, ok := streamKeys(full)
	if !ok {
		return "", "", "", noCompanion(op, n.name, key)
	}
	return full, stream, dead, nil
}

// noCompanion is the error for a key whose companions (its stream, its
// version key) cannot share its slot.
func noCompanion(op, ns, key string) error {
	return &KeyError{Op: op, Namespace: ns, Key: key, Reason: "has braces that form no hash tag, so its stream cannot share its slot"}
}

func (n *Namespace) retention() store.Retention {
	p := n.c.cfg.Namespaces[n.name]
	r := store.Retention{MaxLen: p.StreamMaxLen, MaxAge: p.StreamMaxAge}
	if r.MaxLen == 0 && r.MaxAge == 0 {
		r.MaxLen = DefaultStreamMaxLen
	}
	return r
}

// pubNames holds the names that a published key's value, version key and
// stream go under, built once per key: a feed publishes the same symbols
// over and over, and building the three names (the key checked, its slot
// hashed) on every publish cost the client a few percent of its time. At
// most maxPubNames keys are held, so that a namespace publishing under
// ever new keys does not grow; past them the names are built per publish.
type pubNames struct {
	m sync.Map // key -> pubKeys
	n atomic.Int32
}

const maxPubNames = 10000

type pubKeys struct{ full, ver, stream string }

// publicationBuffer is the capacity a publication's envelope starts with:
// a quote's is about 80 bytes.
const publicationBuffer = 128

// pubKeysOf returns key's publication names, checking key.
func (n *Namespace) pubKeysOf(op, key string) (pubKeys, error) {
	if n.c.closed.Load() {
		return pubKeys{}, n.fail(op, key, errClosed) // as n.key says, held names or not
	}
	if k, ok := n.pub.m.Load(key); ok {
		return k.(pubKeys), nil
	}
	full, err := n.key(op, key)
	if err != nil {
		return pubKeys{}, err
	}
	// The version key and the stream share one hash of the key (the dead
	// letters' name is not needed to publish).
	end, ok := keyslot.CompanionEnd(full)
	if !ok {
		return pubKeys{}, noCompanion(op, n.name, key)
	}
	k := pubKeys{full: full, ver: full + " ver" + end, stream: full + " stream" + end}
	if n.pub.n.Load() < maxPubNames {
		if _, loaded := n.pub.m.LoadOrStore(key, k); !loaded {
			n.pub.n.Add(1)
		}
	}
	return k, nil
}

func (n *Namespace) publication(op string, u Update) (store.Publication, error) {
	names, err := n.pubKeysOf(op, u.Key)
	if err != nil {
		return store.Publication{}, err
	}
	full := names.full
	if u.Version == 0 {
		return store.Publication{}, invalidArg(op, n.name, u.Key, "a published value needs a version above 0")
	}
	// A buffer of its own, not the pool's: the store holds it until the
	// call that sends it ends, which may be after a caller that gave up
	// has returned. Sized for a quote's envelope, so that encoding does not
	// grow it four times (four of a publish's twenty allocations).
	b, err := n.encode(make([]byte, 0, publicationBuffer), op, u.Key, full, u.Value, nil)
	if err != nil {
		return store.Publication{}, err
	}
	pc := n.c.cfg.Namespaces[n.name]
	return store.Publication{Key: full, VerKey: names.ver, Stream: names.stream, Value: b, Version: u.Version,
		TTL: n.ttl, Retention: n.retention(), Replicas: pc.StreamReplicas, ReplicaTimeout: cmp.Or(pc.StreamReplicaTimeout, DefaultStreamReplicaTimeout)}, nil
}

// ErrNotReplicated is returned by Publish in a namespace with
// StreamReplicas when fewer replicas than that acknowledged the update in
// time: it is applied on the master, and a failover may lose it.
var ErrNotReplicated = store.ErrNotReplicated

// DefaultStreamReplicaTimeout is how long Publish waits for
// NamespaceConfig.StreamReplicas when StreamReplicaTimeout is 0.
const DefaultStreamReplicaTimeout = 100 * time.Millisecond

// Publish stores value under key if version is above the stored version
// (as SetIfNewer does) and appends the update to key's stream, in one
// atomic step on the server. It reports whether it was applied and the
// entry's ID; an out-of-order version is refused for both. In a namespace
// with StreamReplicas it also waits for that many replicas to have it,
// and fails with ErrNotReplicated (applied true) when they do not.
func (s Stream) Publish(ctx context.Context, value any, version uint64) (applied bool, id string, err error) {
	const op = "publish"
	n, key := s.ns, s.key
	pub, err := n.publication(op, Update{key, value, version})
	if err != nil {
		return false, "", err
	}
	applied, id, err = n.publish(ctx, key, pub)
	if err != nil {
		return applied, id, n.fail(op, key, err)
	}
	if applied {
		n.wrote(1)
	}
	return applied, id, nil
}

// PublishMany publishes many updates in one pipelined round trip (one per
// node on a cluster). Every update is checked and encoded first: one that
// cannot be fails the call with nothing published.
func (s Streams) PublishMany(ctx context.Context, updates []Update) ([]PublishResult, error) {
	const op = "publish_many"
	n := s.ns
	if err := n.tooMany(op, len(updates)); err != nil {
		return nil, err
	}
	pubs := make([]store.Publication, len(updates))
	keys := make([]string, len(updates))
	for i, u := range updates {
		p, err := n.publication(op, u)
		if err != nil {
			return nil, err
		}
		pubs[i], keys[i] = p, u.Key
	}
	rs, err := n.publishMany(ctx, keys, pubs)
	if err != nil {
		return nil, n.fail(op, "", err)
	}
	out := make([]PublishResult, len(rs))
	applied := 0
	for i, r := range rs {
		out[i] = PublishResult{Applied: r.Applied, ID: r.ID}
		if r.Err != nil {
			out[i].Err = n.fail(op, updates[i].Key, r.Err)
		}
		if r.Applied {
			applied++
		}
	}
	n.wrote(applied)
	return out, nil
}

// Snapshot reads key's value into dst, with its version and the ID of the
// stream's last entry at the same instant: the entries after that ID are
// exactly the updates published since.
func (s Stream) Snapshot(ctx context.Context, dst any) (Snapshot, error) {
	const op = "snapshot"
	n, key := s.ns, s.key
	full, stream, _, err := n.streamKey(op, key)
	if err != nil {
		return Snapshot{}, err
	}
	snap, err := n.snapshot(ctx, key, full, versionKey(full), stream)
	if err != nil {
		return Snapshot{}, n.fail(op, key, err)
	}
	out := Snapshot{Found: snap.Found, Version: snap.Version, LastID: snap.LastID}
	if snap.Found {
		if err := n.decodePlain(opGet, op, key, full, snap.Value, dst); err != nil {
			return out, err
		}
		n.hit(1)
	} else {
		n.miss(1)
	}
	return out, nil
}

func (n *Namespace) events(key, full string, es []store.StreamEntry) []StreamEvent {
	out := make([]StreamEvent, len(es))
	for i, e := range es {
		out[i] = StreamEvent{Key: key, ID: e.ID, Version: e.Version, Prev: e.Prev, Deliveries: e.Deliveries, Reason: e.Reason,
			data: e.Value, ns: n, full: full}
	}
	return out
}

// Partition splits keys into the sets that one Read can serve together in
// one round trip: all of them on a single server, smaller sets on a
// cluster. It returns indexes into keys; a reader that spreads the sets
// over goroutines reads many keys at once.
func (s Streams) Partition(keys []string) [][]int {
	n := s.ns
	if n.topology != "cluster" {
		all := make([]int, len(keys))
		for i := range all {
			all[i] = i
		}
		return [][]int{all}
	}
	bySlot := map[uint16][]int{}
	var order []uint16
	for i, k := range keys {
		sl := keyslot.Of(n.base + k)
		if _, ok := bySlot[sl]; !ok {
			order = append(order, sl)
		}
		bySlot[sl] = append(bySlot[sl], i)
	}
	out := make([][]int, 0, len(order))
	for _, sl := range order {
		out = append(out, bySlot[sl])
	}
	return out
}

// Read returns, for each key, its stream's entries after after[i] ("0-0"
// or "" for the start), at most count each, waiting up to block for one
// to arrive. The keys must be one of Partition's sets.
func (s Streams) Read(ctx context.Context, keys, after []string, count int, block time.Duration) ([][]StreamEvent, error) {
	const op = "read_stream"
	n := s.ns
	if len(keys) != len(after) || len(keys) == 0 {
		return nil, invalidArg(op, n.name, "", "one ID per key, and at least one key")
	}
	fulls := make([]string, len(keys))
	streams := make([]string, len(keys))
	ids := make([]string, len(keys))
	for i, k := range keys {
		full, stream, _, err := n.streamKey(op, k)
		if err != nil {
			return nil, err
		}
		fulls[i], streams[i], ids[i] = full, stream, after[i]
		if ids[i] == "" {
			ids[i] = "0-0"
		}
	}
	es, err := n.readStreams(ctx, streams, ids, count, block)
	if err != nil {
		return nil, n.fail(op, "", err)
	}
	out := make([][]StreamEvent, len(keys))
	for i := range es {
		out[i] = n.events(keys[i], fulls[i], es[i])
	}
	return out, nil
}

// Range returns the stream's entries from start to end inclusive ("-" and
// "+" are the ends; an ID, or "<ms>" for a time), at most count: page by
// calling again from the last ID with "(" before it.
func (s Stream) Range(ctx context.Context, start, end string, count int) ([]StreamEvent, error) {
	const op = "stream_range"
	n, key := s.ns, s.key
	full, stream, _, err := n.streamKey(op, key)
	if err != nil {
		return nil, err
	}
	es, err := n.streamRange(ctx, key, stream, start, end, count)
	if err != nil {
		return nil, n.fail(op, key, err)
	}
	return n.events(key, full, es), nil
}

// DeadLetters returns the stream's dead-lettered entries, oldest first, at
// most count, from start ("-" for the first).
func (s Stream) DeadLetters(ctx context.Context, start string, count int) ([]StreamEvent, error) {
	const op = "dead_letters"
	n, key := s.ns, s.key
	full, _, dead, err := n.streamKey(op, key)
	if err != nil {
		return nil, err
	}
	es, err := n.streamRange(ctx, key, dead, start, "+", count)
	if err != nil {
		return nil, n.fail(op, key, err)
	}
	return n.events(key, full, es), nil
}

// Read reads new entries of the stream for consumer in the group
// (created at the stream's start if missing), waiting up to block.
func (g StreamGroup) Read(ctx context.Context, consumer string, count int, block time.Duration) ([]StreamEvent, error) {
	const op = "group_read"
	n, key, group := g.s.ns, g.s.key, g.name
	full, stream, _, err := n.streamKey(op, key)
	if err != nil {
		return nil, err
	}
	if err := checkGroupNames(op, n.name, key, group, consumer); err != nil {
		return nil, err
	}
	es, err := n.groupRead(ctx, stream, group, consumer, count, block)
	if err != nil {
		return nil, n.fail(op, key, err)
	}
	return n.events(key, full, es), nil
}

// Ack acknowledges entries of the stream in the group: they are done.
func (g StreamGroup) Ack(ctx context.Context, ids ...string) error {
	const op = "ack"
	n, key, group := g.s.ns, g.s.key, g.name
	_, stream, _, err := n.streamKey(op, key)
	if err != nil {
		return err
	}
	if err := n.ack(ctx, stream, group, ids); err != nil {
		return n.fail(op, key, err)
	}
	return nil
}

// Claim takes entries of the stream pending in the group on any consumer
// for at least minIdle (a consumer that died, or is stuck), for consumer,
// scanning from start ("0-0" at first; then the next it returns, which is
// "0-0" again when the scan is through). Each comes with how many times it
// has been delivered.
func (g StreamGroup) Claim(ctx context.Context, consumer string, minIdle time.Duration, start string, count int) ([]StreamEvent, string, error) {
	const op = "claim"
	n, key, group := g.s.ns, g.s.key, g.name
	full, stream, _, err := n.streamKey(op, key)
	if err != nil {
		return nil, "", err
	}
	if err := checkGroupNames(op, n.name, key, group, consumer); err != nil {
		return nil, "", err
	}
	es, next, err := n.claim(ctx, stream, group, consumer, minIdle, start, count)
	if err != nil {
		return nil, "", n.fail(op, key, err)
	}
	return n.events(key, full, es), next, nil
}

// DeadLetter moves an entry of the stream that keeps failing to its
// dead-letter stream, with reason, and acknowledges it in the group, in
// one step.
func (g StreamGroup) DeadLetter(ctx context.Context, e StreamEvent, reason string) error {
	const op = "dead_letter"
	n, group := g.s.ns, g.name
	if e.Key != g.s.key {
		return invalidArg(op, n.name, e.Key, "an entry of stream %q dead-lettered through stream %q", e.Key, g.s.key)
	}
	_, stream, dead, err := n.streamKey(op, e.Key)
	if err != nil {
		return err
	}
	se := store.StreamEntry{ID: e.ID, Version: e.Version, Value: e.data}
	if err := n.deadLetter(ctx, stream, group, dead, se, reason); err != nil {
		return n.fail(op, e.Key, err)
	}
	return nil
}

// Pending counts the entries of the stream delivered to the group and not
// yet acknowledged.
func (g StreamGroup) Pending(ctx context.Context) (int64, error) {
	const op = "pending"
	n, key, group := g.s.ns, g.s.key, g.name
	_, stream, _, err := n.streamKey(op, key)
	if err != nil {
		return 0, err
	}
	c, err := n.pending(ctx, stream, group)
	if err != nil {
		return 0, n.fail(op, key, err)
	}
	return c, nil
}

func checkGroupNames(op, ns, key, group, consumer string) error {
	if r := checkName(group); r != "" {
		return invalidArg(op, ns, key, "group name %s", r)
	}
	if r := checkName(consumer); r != "" {
		return invalidArg(op, ns, key, "consumer name %s", r)
	}
	return nil
}

// StreamStats are the Cache's stream figures since New.
type StreamStats struct {
	Published    uint64 `json:"published"` // updates applied and appended
	Refused      uint64 `json:"refused"`   // updates not above the stored version
	Read         uint64 `json:"read"`      // entries read by subscribers and consumers
	Acked        uint64 `json:"acked"`
	Claimed      uint64 `json:"claimed"` // entries taken from idle consumers
	DeadLettered uint64 `json:"dead_lettered"`
	// Lag is from an entry's append (its ID's time, by the server's
	// clock) to its read, over the entries read.
	LagP50 time.Duration `json:"lag_p50_ns"`
	LagP99 time.Duration `json:"lag_p99_ns"`
}

// streamCounters are the counts behind StreamStats.
type streamCounters struct {
	published, refused, read, acked, claimed, deadLettered atomic.Uint64
	lag                                                    hist.Histogram
}

func (s *streamCounters) countPublish(applied bool, err error) {
	switch {
	case err != nil:
	case applied:
		s.published.Add(1)
	default:
		s.refused.Add(1)
	}
}

func (s *streamCounters) countRead(es []store.StreamEntry, now time.Time) {
	s.read.Add(uint64(len(es)))
	for _, e := range es {
		if t := idTime(e.ID); !t.IsZero() {
			s.lag.Record(now.Sub(t))
		}
	}
}

func (s *streamCounters) stats() StreamStats {
	return StreamStats{Published: s.published.Load(), Refused: s.refused.Load(), Read: s.read.Load(), Acked: s.acked.Load(),
		Claimed: s.claimed.Load(), DeadLettered: s.deadLettered.Load(), LagP50: s.lag.Quantile(0.5), LagP99: s.lag.Quantile(0.99)}
}
