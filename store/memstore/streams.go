package memstore

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tradecache/tradecache/store"
)

// Streams in process, with the semantics of the Redis store's: entry IDs
// "<ms>-<seq>" from the store's clock, each entry naming the one before
// it, retention by count (exact here) and age, consumer groups with
// pending entries, claims and dead letters. A blocking read waits for an
// append (or its bound, or ctx).

var _ store.Streams = (*Store)(nil)

type memStreams struct {
	mu       sync.Mutex
	streams  map[string]*memStream
	appended chan struct{} // closed and replaced on every append: wakes blocking reads
}

type memStream struct {
	entries  []store.StreamEntry
	lastMs   int64
	lastSeq  int64
	expireAt int64 // unix ns; 0 never
	groups   map[string]*memGroup
}

type memGroup struct {
	delivered string // the last ID delivered to the group
	pending   map[string]*pendingEntry
}

type pendingEntry struct {
	consumer    string
	deliveredAt int64
	count       int64
}

// id parses "<ms>-<seq>" into a comparable pair; ok is false for a
// malformed one.
func parseID(id string) (ms, seq int64, ok bool) {
	a, b, found := strings.Cut(id, "-")
	ms, err1 := strconv.ParseInt(a, 10, 64)
	if !found {
		return ms, 0, err1 == nil
	}
	seq, err2 := strconv.ParseInt(b, 10, 64)
	return ms, seq, err1 == nil && err2 == nil
}

func idLess(a, b string) bool {
	am, as, _ := parseID(a)
	bm, bs, _ := parseID(b)
	return am < bm || am == bm && as < bs
}

func (s *Store) streamsState() *memStreams {
	s.streamOnce.Do(func() {
		s.strm = &memStreams{streams: map[string]*memStream{}, appended: make(chan struct{})}
	})
	return s.strm
}

// stream returns key's stream, nil when missing or expired; the caller
// holds mu.
func (m *memStreams) stream(key string, now int64) *memStream {
	st := m.streams[key]
	if st != nil && st.expireAt != 0 && st.expireAt <= now {
		delete(m.streams, key)
		return nil
	}
	return st
}

func (m *memStreams) streamOrNew(key string, now int64) *memStream {
	st := m.stream(key, now)
	if st == nil {
		st = &memStream{groups: map[string]*memGroup{}}
		m.streams[key] = st
	}
	return st
}

// appendEntry adds an entry with the next ID and wakes blocking reads; the
// caller holds mu.
func (m *memStreams) appendEntry(st *memStream, now int64, e store.StreamEntry) string {
	ms := now / int64(time.Millisecond)
	if ms > st.lastMs {
		st.lastMs, st.lastSeq = ms, 0
	} else {
		st.lastSeq++
	}
	e.ID = strconv.FormatInt(st.lastMs, 10) + "-" + strconv.FormatInt(st.lastSeq, 10)
	if n := len(st.entries); n > 0 && e.Prev == "" {
		e.Prev = st.entries[n-1].ID
	}
	st.entries = append(st.entries, e)
	close(m.appended)
	m.appended = make(chan struct{})
	return e.ID
}

// Publish implements store.Streams.
func (s *Store) Publish(ctx context.Context, p store.Publication) (bool, string, error) {
	if err := s.check(ctx); err != nil {
		return false, "", err
	}
	if p.TTL <= 0 {
		return false, "", fmt.Errorf("memstore: Publish needs a positive TTL, got %v", p.TTL)
	}
	s.versioned.Lock()
	defer s.versioned.Unlock()
	cur, found, err := s.Get(ctx, p.VerKey)
	if err != nil {
		return false, "", err
	}
	enc := fmt.Sprintf("%020d", p.Version)
	if found && string(cur[:min(len(cur), 20)]) >= enc {
		return false, "", nil
	}
	// The previous entry is the one the last Publish recorded in the
	// version key, as the Redis store's script reads it; the stream's own
	// last entry only when the key records none.
	var prev string
	if found && len(cur) > 21 {
		prev = string(cur[21:])
	}
	m := s.streamsState()
	now := s.nowNano()
	m.mu.Lock()
	st := m.streamOrNew(p.Stream, now)
	id := m.appendEntry(st, now, store.StreamEntry{Version: p.Version, Value: append([]byte(nil), p.Value...), Prev: prev})
	if p.Retention.MaxLen > 0 && int64(len(st.entries)) > p.Retention.MaxLen {
		st.entries = append([]store.StreamEntry(nil), st.entries[int64(len(st.entries))-p.Retention.MaxLen:]...)
	}
	if age := p.Retention.MaxAge; age > 0 {
		minMs := (now - int64(age)) / int64(time.Millisecond)
		i := sort.Search(len(st.entries), func(i int) bool { ms, _, _ := parseID(st.entries[i].ID); return ms >= minMs })
		st.entries = st.entries[i:]
	}
	st.expireAt = now + int64(max(p.TTL, p.Retention.MaxAge))
	m.mu.Unlock()
	if err := s.Set(ctx, p.Key, p.Value, p.TTL); err != nil {
		return false, "", err
	}
	if err := s.Set(ctx, p.VerKey, []byte(enc+" "+id), p.TTL); err != nil {
		return false, "", err
	}
	if p.Replicas > 0 {
		return true, id, fmt.Errorf("%w: the in-memory store has no replicas", store.ErrNotReplicated)
	}
	return true, id, nil
}

// PublishMany implements store.Streams.
func (s *Store) PublishMany(ctx context.Context, ps []store.Publication) ([]store.PublishResult, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	out := make([]store.PublishResult, len(ps))
	for i, p := range ps {
		out[i].Applied, out[i].ID, out[i].Err = s.Publish(ctx, p)
	}
	return out, nil
}

// Snapshot implements store.Streams.
func (s *Store) Snapshot(ctx context.Context, key, verKey, stream string) (store.Snap, error) {
	if err := s.check(ctx); err != nil {
		return store.Snap{}, err
	}
	s.versioned.Lock() // a Publish in between would split the three reads
	defer s.versioned.Unlock()
	var snap store.Snap
	v, found, err := s.Get(ctx, key)
	if err != nil {
		return snap, err
	}
	snap.Value, snap.Found = v, found
	if ver, ok, _ := s.Get(ctx, verKey); ok {
		if f := strings.Fields(string(ver)); len(f) > 0 {
			snap.Version, _ = strconv.ParseUint(f[0], 10, 64)
		}
	}
	m := s.streamsState()
	m.mu.Lock()
	if st := m.stream(stream, s.nowNano()); st != nil && len(st.entries) > 0 {
		snap.LastID = st.entries[len(st.entries)-1].ID
	}
	m.mu.Unlock()
	return snap, nil
}

// after returns the entries of st after id, at most count; the caller
// holds mu.
func after(st *memStream, id string, count int) []store.StreamEntry {
	if st == nil {
		return nil
	}
	i := sort.Search(len(st.entries), func(i int) bool { return idLess(id, st.entries[i].ID) })
	out := append([]store.StreamEntry(nil), st.entries[i:min(len(st.entries), i+max(count, 1))]...)
	return out
}

// wait blocks until an append, the deadline, or ctx's end; false when the
// read should stop waiting.
func (m *memStreams) wait(ctx context.Context, ch <-chan struct{}, deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// Read implements store.Streams.
func (s *Store) Read(ctx context.Context, streams, ids []string, count int, block time.Duration) ([][]store.StreamEntry, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if len(streams) != len(ids) || len(streams) == 0 {
		return nil, fmt.Errorf("memstore: Read needs one ID per stream")
	}
	m := s.streamsState()
	deadline := time.Now().Add(block)
	for {
		m.mu.Lock()
		out := make([][]store.StreamEntry, len(streams))
		got := false
		now := s.nowNano()
		for i, name := range streams {
			out[i] = after(m.stream(name, now), ids[i], count)
			got = got || len(out[i]) > 0
		}
		ch := m.appended
		m.mu.Unlock()
		if got || block <= 0 || !m.wait(ctx, ch, deadline) {
			return out, ctx.Err()
		}
	}
}

// Range implements store.Streams: start and end as XRANGE takes them ("-",
// "+", an ID, "<ms>", or "(" before an ID for an exclusive start).
func (s *Store) Range(ctx context.Context, stream, start, end string, count int) ([]store.StreamEntry, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	m := s.streamsState()
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.stream(stream, s.nowNano())
	if st == nil {
		return nil, nil
	}
	var out []store.StreamEntry
	for _, e := range st.entries {
		if len(out) == max(count, 1) {
			break
		}
		if inRange(e.ID, start, end) {
			out = append(out, e)
		}
	}
	return out, nil
}

func inRange(id, start, end string) bool {
	ms, seq, _ := parseID(id)
	switch {
	case start == "-":
	case strings.HasPrefix(start, "("):
		if !idLess(start[1:], id) {
			return false
		}
	default:
		sm, ss, _ := parseID(start)
		if ms < sm || ms == sm && seq < ss {
			return false
		}
	}
	switch {
	case end == "+":
		return true
	case !strings.Contains(end, "-"):
		em, _, _ := parseID(end)
		return ms <= em
	}
	em, es, _ := parseID(end)
	return ms < em || ms == em && seq <= es
}

func (st *memStream) group(name string) *memGroup {
	g := st.groups[name]
	if g == nil {
		g = &memGroup{delivered: "0-0", pending: map[string]*pendingEntry{}}
		st.groups[name] = g
	}
	return g
}

// GroupRead implements store.Streams.
func (s *Store) GroupRead(ctx context.Context, stream, group, consumer string, count int, block time.Duration) ([]store.StreamEntry, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	m := s.streamsState()
	deadline := time.Now().Add(block)
	for {
		m.mu.Lock()
		now := s.nowNano()
		st := m.streamOrNew(stream, now)
		g := st.group(group)
		out := after(st, g.delivered, count)
		for i := range out {
			g.pending[out[i].ID] = &pendingEntry{consumer: consumer, deliveredAt: now, count: 1}
			g.delivered = out[i].ID
			out[i].Deliveries = 1
		}
		ch := m.appended
		m.mu.Unlock()
		if len(out) > 0 || block <= 0 || !m.wait(ctx, ch, deadline) {
			return out, ctx.Err()
		}
	}
}

// Ack implements store.Streams.
func (s *Store) Ack(ctx context.Context, stream, group string, ids ...string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	m := s.streamsState()
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.stream(stream, s.nowNano()); st != nil {
		if g := st.groups[group]; g != nil {
			for _, id := range ids {
				delete(g.pending, id)
			}
		}
	}
	return nil
}

// Claim implements store.Streams.
func (s *Store) Claim(ctx context.Context, stream, group, consumer string, minIdle time.Duration, start string, count int) ([]store.StreamEntry, string, error) {
	if err := s.check(ctx); err != nil {
		return nil, "", err
	}
	m := s.streamsState()
	m.mu.Lock()
	defer m.mu.Unlock()
	now := s.nowNano()
	st := m.stream(stream, now)
	if st == nil || st.groups[group] == nil {
		return nil, "0-0", nil
	}
	g := st.groups[group]
	ids := make([]string, 0, len(g.pending))
	for id := range g.pending {
		if !idLess(id, start) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return idLess(ids[i], ids[j]) })
	var out []store.StreamEntry
	next := "0-0"
	for _, id := range ids {
		if len(out) == max(count, 1) {
			next = id
			break
		}
		p := g.pending[id]
		if now-p.deliveredAt < int64(minIdle) {
			continue
		}
		i := sort.Search(len(st.entries), func(i int) bool { return !idLess(st.entries[i].ID, id) })
		if i == len(st.entries) || st.entries[i].ID != id {
			delete(g.pending, id) // trimmed while pending, as XAUTOCLAIM drops it
			continue
		}
		p.consumer, p.deliveredAt, p.count = consumer, now, p.count+1
		e := st.entries[i]
		e.Deliveries = p.count
		out = append(out, e)
	}
	return out, next, nil
}

// DeadLetter implements store.Streams.
func (s *Store) DeadLetter(ctx context.Context, stream, group, dead string, e store.StreamEntry, reason string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	m := s.streamsState()
	m.mu.Lock()
	now := s.nowNano()
	d := m.streamOrNew(dead, now)
	m.appendEntry(d, now, store.StreamEntry{Version: e.Version, Value: append([]byte(nil), e.Value...), Reason: reason})
	if st := m.stream(stream, now); st != nil && st.expireAt > d.expireAt {
		d.expireAt = st.expireAt
	}
	m.mu.Unlock()
	return s.Ack(ctx, stream, group, e.ID)
}

// Pending implements store.Streams.
func (s *Store) Pending(ctx context.Context, stream, group string) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	m := s.streamsState()
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.stream(stream, s.nowNano()); st != nil {
		if g := st.groups[group]; g != nil {
			return int64(len(g.pending)), nil
		}
	}
	return 0, nil
}
