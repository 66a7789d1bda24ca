package guard_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tradecache/tradecache/internal/leaktest"
	"github.com/tradecache/tradecache/store"
	"github.com/tradecache/tradecache/store/guard"
	"github.com/tradecache/tradecache/store/memstore"
	"github.com/tradecache/tradecache/store/storetest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

func TestConformanceThroughTheGuard(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		m, _ := memstore.New(memstore.Options{})
		g, err := guard.New(m, guard.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return g
	})
}

// faulty is a memstore whose Get fails or stalls on command.
type faulty struct {
	store.Store
	mode  atomic.Int32 // 0 ok, 1 unavailable, 2 stall until ctx ends, 3 redis error reply
	calls atomic.Int64
}

var errReply = errors.New("OOM command not allowed when used memory > 'maxmemory'")

func (f *faulty) Get(ctx context.Context, key string) ([]byte, bool, error) {
	f.calls.Add(1)
	switch f.mode.Load() {
	case 1:
		return nil, false, fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	case 2:
		<-ctx.Done()
		return nil, false, ctx.Err()
	case 3:
		return nil, false, errReply
	}
	return f.Store.Get(ctx, key)
}

func newFaulty(t *testing.T, o guard.Options) (*faulty, *guard.Store, *[]string) {
	m, _ := memstore.New(memstore.Options{})
	f := &faulty{Store: m}
	var transitions []string
	o.OnStateChange = func(from, to guard.State) { transitions = append(transitions, from.String()+"->"+to.String()) }
	g, err := guard.New(f, o)
	if err != nil {
		t.Fatal(err)
	}
	return f, g, &transitions
}

func TestBreakerOpensFailsFastAndRecovers(t *testing.T) {
	var log bytes.Buffer
	f, g, transitions := newFaulty(t, guard.Options{OpenTimeout: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	ctx := context.Background()
	f.mode.Store(1)
	for range 5 {
		if _, _, err := g.Get(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Get on a dead store = %v", err)
		}
	}
	if g.BreakerState() != guard.StateOpen {
		t.Fatalf("breaker %v after 5 consecutive failures", g.BreakerState())
	}
	// The line that says it opened says on what: an operator reads the
	// cause there, not in a debug log.
	if !strings.Contains(log.String(), `last_failure="tradecache: store unavailable: connection refused"`) {
		t.Fatalf("the breaker's opening does not name the failure that opened it:\n%s", log.String())
	}
	// Failing fast is refusing without reaching the store: with the store
	// now stalling every call until its deadline, a call let through would
	// be counted (and take the whole bound). No wall-clock bound here: a
	// busy machine under -race is slow, not wrong.
	f.mode.Store(2)
	before := f.calls.Load()
	for range 1000 {
		_, _, err := g.Get(ctx, "k")
		if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, guard.ErrOpen) {
			t.Fatalf("open breaker returned %v", err)
		}
	}
	if f.calls.Load() != before {
		t.Fatal("the open breaker let calls reach the store")
	}
	f.mode.Store(0)
	time.Sleep(60 * time.Millisecond)
	if _, _, err := g.Get(ctx, "k"); err != nil {
		t.Fatalf("probe after recovery: %v", err)
	}
	if g.BreakerState() != guard.StateClosed {
		t.Fatalf("breaker %v after a successful probe", g.BreakerState())
	}
	want := []string{"closed->open", "open->half-open", "half-open->closed"}
	if fmt.Sprint(*transitions) != fmt.Sprint(want) {
		t.Fatalf("transitions %v, want %v", *transitions, want)
	}
	if tr := g.Transitions(); tr.Opened != 1 || tr.Closed != 1 || tr.Rejected != 1000 {
		t.Fatalf("counts %+v", tr)
	}
}

func TestTimeoutsBoundCallsWithoutADeadline(t *testing.T) {
	f, g, _ := newFaulty(t, guard.Options{OpTimeout: 20 * time.Millisecond})
	f.mode.Store(2)
	start := time.Now()
	_, _, err := g.Get(context.Background(), "k")
	if !errors.Is(err, store.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled Get = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 20*time.Millisecond || d > 200*time.Millisecond {
		t.Fatalf("stalled Get returned after %v, want about 20ms", d)
	}
}

// Calls without a deadline share one per epoch, and the epochs turn over
// without the calls reading the clock: stalled calls one after another
// each get the whole bound, not what is left of the first one's.
func TestSharedDeadlinesTurnOver(t *testing.T) {
	f, g, _ := newFaulty(t, guard.Options{OpTimeout: 40 * time.Millisecond})
	f.mode.Store(2)
	for i := range 3 {
		start := time.Now()
		if _, _, err := g.Get(context.Background(), "k"); !errors.Is(err, store.ErrTimeout) {
			t.Fatalf("stalled Get %d = %v, want ErrTimeout", i, err)
		}
		if d := time.Since(start); d < 20*time.Millisecond {
			t.Fatalf("stalled Get %d returned after %v: an epoch's deadline outlived it", i, d)
		}
	}
}

func TestWhatIsNotAFailure(t *testing.T) {
	f, g, _ := newFaulty(t, guard.Options{})
	ctx := context.Background()
	for range 20 {
		if _, found, err := g.Get(ctx, "missing"); err != nil || found {
			t.Fatal(err)
		}
	}
	f.mode.Store(3)
	for range 20 {
		if _, _, err := g.Get(ctx, "k"); !errors.Is(err, errReply) {
			t.Fatalf("reply error = %v", err)
		}
	}
	f.mode.Store(2)
	for range 20 {
		cctx, cancel := context.WithTimeout(ctx, time.Millisecond)
		_, _, err := g.Get(cctx, "k")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("caller deadline = %v", err)
		}
	}
	if g.BreakerState() != guard.StateClosed {
		t.Fatalf("misses, error replies or callers' own deadlines opened the breaker: %v", g.BreakerState())
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	m, _ := memstore.New(memstore.Options{})
	for _, o := range []guard.Options{{OpTimeout: -1}, {FailureRatio: 1.5}, {OpenTimeout: -time.Second}} {
		if _, err := guard.New(m, o); err == nil {
			t.Fatalf("New(%+v) succeeded", o)
		}
	}
}

// shardedFaulty is a store in four parts, by the key's first byte; the
// parts in dead fail as unreachable, those in refusing answer with a
// server error reply, as a cluster's healthy shards answer CLUSTERDOWN.
type shardedFaulty struct {
	store.Store
	dead, refusing map[int]bool
	calls          atomic.Int64
}

var errClusterDown = errors.New("CLUSTERDOWN The cluster is down")

// newSharded guards a shardedFaulty whose part 1 (keys starting with 'a',
// 97 % 4 == 1) is dead; breakers stay open once opened.
func newSharded(t *testing.T) (*memstore.Store, *shardedFaulty, *guard.Store) {
	t.Helper()
	m, _ := memstore.New(memstore.Options{})
	s := &shardedFaulty{Store: m, dead: map[int]bool{1: true}}
	g, err := guard.New(s, guard.Options{OpenTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return m, s, g
}

func (s *shardedFaulty) Partitions() (int, func(int) string, func(string) int) {
	return 4, func(i int) string { return fmt.Sprint("part ", i) }, func(k string) int { return int(k[0]) % 4 }
}

func (s *shardedFaulty) Get(ctx context.Context, key string) ([]byte, bool, error) {
	s.calls.Add(1)
	if s.dead[int(key[0])%4] {
		return nil, false, fmt.Errorf("%w: shard down", store.ErrUnavailable)
	}
	return s.Store.Get(ctx, key)
}

// A partitioned store gets a breaker per part: one dead part fails fast
// while the others are served, and the guard reports the worst state.
func TestPartitionBreakersIsolateADeadPart(t *testing.T) {
	_, s, g := newSharded(t)
	ctx := context.Background()
	for i := range 200 {
		_, _, errA := g.Get(ctx, "a"+fmt.Sprint(i))
		_, _, errB := g.Get(ctx, "b"+fmt.Sprint(i)) // 98 % 4 == 2: alive
		if !errors.Is(errA, store.ErrUnavailable) {
			t.Fatalf("dead part: %v", errA)
		}
		if errB != nil {
			t.Fatalf("call %d to a live part failed: %v", i, errB)
		}
	}
	if open, total := g.OpenPartitions(); open != 1 || total != 4 {
		t.Fatalf("OpenPartitions = %d of %d, want 1 of 4", open, total)
	}
	if g.BreakerState() != guard.StateOpen {
		t.Fatalf("BreakerState = %v with a part open, want open", g.BreakerState())
	}
	// The dead part's breaker opened after 5 failures: the rest of its
	// calls never reached the store.
	if n := s.calls.Load(); n != 200+5 {
		t.Fatalf("the store saw %d calls, want 205 (200 live, 5 before the dead part's breaker opened)", n)
	}
}

// GetMany on shardedFaulty fails the keys of dead parts the way the Redis
// cluster store does: the others' values, and a PartialError.
func (s *shardedFaulty) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	s.calls.Add(1)
	out, err := s.Store.GetMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	failed, ferr := s.failures(len(keys), func(i int) string { return keys[i] })
	for _, i := range failed {
		out[i] = nil
	}
	if len(failed) == len(keys) {
		return nil, ferr
	}
	return out, ferr
}

// failures lists which of n keys live on dead parts and returns what the
// Redis cluster store would: nil, a PartialError, or an error for all.
func (s *shardedFaulty) failures(n int, key func(int) string) ([]int, error) {
	var (
		failed []int
		causes []error
	)
	for i := range n {
		switch p := int(key(i)[0]) % 4; {
		case s.dead[p]:
			failed, causes = append(failed, i), append(causes, fmt.Errorf("%w: shard down", store.ErrUnavailable))
		case s.refusing[p]:
			failed, causes = append(failed, i), append(causes, errClusterDown)
		}
	}
	switch {
	case len(failed) == 0:
		return nil, nil
	case len(failed) == n && (len(s.dead) == 0 || len(s.refusing) == 0):
		return failed, causes[0]
	}
	return failed, store.NewPartialError(failed, causes)
}

// A batch in which every key fails, the dead part's unreachable and the
// others' refused by the server (CLUSTERDOWN while a replica is promoted),
// charges only the dead part's breaker: the store names each key's cause
// even when none was read, and the guard tells each part its own outcome.
func TestAllFailedBatchChargesOnlyTheDeadPart(t *testing.T) {
	_, s, g := newSharded(t)
	s.refusing = map[int]bool{2: true, 3: true}
	ctx := context.Background()
	keys := []string{"a1", "b1", "c1", "b2"} // parts 1 (dead), 2, 3, 2 (refusing)
	for round := range 20 {
		if _, err := g.GetMany(ctx, keys); err == nil {
			t.Fatalf("round %d: a batch of failing keys succeeded", round)
		}
		_ = g.SetMany(ctx, []store.Entry{{Key: "a3"}, {Key: "b3"}})
	}
	if open, _ := g.OpenPartitions(); open != 1 {
		t.Fatalf("%d parts open after 20 batches that failed whole, want only the unreachable one", open)
	}
}

// A batch across parts: the live parts' values come back with a
// PartialError naming the dead part's keys; once that part's breaker is
// open its keys are not even sent, and a batch of only its keys fails
// whole and fast.
func TestPartialGetManyAcrossParts(t *testing.T) {
	m, s, g := newSharded(t)
	ctx := context.Background()
	keys := []string{"a1", "b1", "a2", "c1"} // parts 1, 2, 1, 3
	for _, k := range []string{"b1", "c1"} {
		if err := m.Set(ctx, k, []byte(k), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 10 {
		vals, err := g.GetMany(ctx, keys)
		var pe *store.PartialError
		if !errors.As(err, &pe) || !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("round %d: GetMany = %v, want a PartialError wrapping ErrUnavailable", round, err)
		}
		if fmt.Sprint(pe.Failed) != "[0 2]" || string(vals[1]) != "b1" || string(vals[3]) != "c1" || vals[0] != nil {
			t.Fatalf("round %d: failed %v, values %q", round, pe.Failed, vals)
		}
	}
	if open, _ := g.OpenPartitions(); open != 1 {
		t.Fatalf("%d parts open, want the dead one", open)
	}
	// The dead part's breaker opened after 5 failed batches: the other 5
	// rounds sent only the live keys, and the store never saw a dead key.
	before := s.calls.Load()
	if _, err := g.GetMany(ctx, []string{"a1", "a2"}); !errors.Is(err, guard.ErrOpen) {
		t.Fatalf("a batch of only the dead part's keys = %v, want ErrOpen", err)
	}
	if s.calls.Load() != before {
		t.Fatal("a batch of only an open part's keys reached the store")
	}
}

// SetMany on shardedFaulty fails the dead parts' entries and writes the
// others, as the Redis cluster store does.
func (s *shardedFaulty) SetMany(ctx context.Context, entries []store.Entry) error {
	s.calls.Add(1)
	var live []store.Entry
	for _, e := range entries {
		if p := int(e.Key[0]) % 4; !s.dead[p] && !s.refusing[p] {
			live = append(live, e)
		}
	}
	if err := s.Store.SetMany(ctx, live); err != nil {
		return err
	}
	_, err := s.failures(len(entries), func(i int) string { return entries[i].Key })
	return err
}

// A batch write across parts: the live parts' entries are written and a
// PartialError names the dead part's; once that part's breaker is open its
// entries are not sent at all.
func TestPartialSetManyAcrossParts(t *testing.T) {
	m, s, g := newSharded(t)
	ctx := context.Background()
	entries := []store.Entry{{Key: "a1", Value: []byte("x")}, {Key: "b1", Value: []byte("y")}, {Key: "a2", Value: []byte("z")}}
	for round := range 8 {
		err := g.SetMany(ctx, entries)
		var pe *store.PartialError
		if !errors.As(err, &pe) || fmt.Sprint(pe.Failed) != "[0 2]" || !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("round %d: SetMany = %v, want a PartialError naming entries 0 and 2", round, err)
		}
	}
	if v, ok, _ := m.Get(ctx, "b1"); !ok || string(v) != "y" {
		t.Fatal("the live part's entry was not written")
	}
	before := s.calls.Load()
	if err := g.SetMany(ctx, []store.Entry{entries[0], entries[2]}); !errors.Is(err, guard.ErrOpen) {
		t.Fatalf("a batch of only the open part's entries = %v, want ErrOpen", err)
	}
	if s.calls.Load() != before {
		t.Fatal("entries of an open part reached the store")
	}
}

// One batch failing for two reasons, as on a cluster whose master just
// died: the dead shard's keys cannot be reached and a healthy shard's are
// refused by the server (CLUSTERDOWN). Each key keeps its own cause, and
// only the unreachable part's breaker opens: a server's reply is not the
// healthy part's failure, whichever key failed first.
func TestPartialBatchKeepsEachKeysCause(t *testing.T) {
	_, s, g := newSharded(t)
	s.refusing = map[int]bool{2: true} // 'b'
	ctx := context.Background()
	keys := []string{"a1", "b1", "c1", "b2", "a2"} // parts 1, 2, 3, 2, 1
	for round := range 20 {
		_, err := g.GetMany(ctx, keys)
		var pe *store.PartialError
		if !errors.As(err, &pe) || fmt.Sprint(pe.Failed) != "[0 1 3 4]" {
			t.Fatalf("round %d: GetMany = %v, want a PartialError naming entries 0, 1, 3 and 4", round, err)
		}
		if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, errClusterDown) {
			t.Fatalf("round %d: %v does not match both causes", round, err)
		}
		for _, i := range []int{1, 3} {
			if c := pe.Cause(i); c != errClusterDown {
				t.Fatalf("round %d: entry %d's cause = %v, want the server's reply", round, i, c)
			}
		}
		for _, i := range []int{0, 4} {
			if c := pe.Cause(i); !errors.Is(c, store.ErrUnavailable) {
				t.Fatalf("round %d: entry %d's cause = %v, want unavailable", round, i, c)
			}
		}
		if pe.Cause(2) != nil {
			t.Fatalf("round %d: entry 2 was read but has a cause", round)
		}
		if msg := err.Error(); !strings.Contains(msg, "CLUSTERDOWN The cluster is down (2)") || !(strings.Contains(msg, "shard down (2)") || strings.Contains(msg, "circuit breaker open (2)")) || !strings.HasPrefix(msg, "4 entries failed: ") {
			t.Fatalf("round %d: message %q does not count each cause", round, msg)
		}
		werr := g.SetMany(ctx, []store.Entry{{Key: "b3"}, {Key: "a3"}, {Key: "c3"}})
		if !errors.As(werr, &pe) || fmt.Sprint(pe.Failed) != "[0 1]" || pe.Cause(0) != errClusterDown || !errors.Is(pe.Cause(1), store.ErrUnavailable) {
			t.Fatalf("round %d: SetMany = %v, want entries 0 (refused) and 1 (unreachable)", round, werr)
		}
	}
	if open, _ := g.OpenPartitions(); open != 1 {
		t.Fatalf("%d parts open, want only the unreachable one", open)
	}
}

// Delete on shardedFaulty removes the live parts' keys and fails the
// others, as the Redis cluster store does.
func (s *shardedFaulty) Delete(ctx context.Context, keys ...string) (int64, error) {
	s.calls.Add(1)
	var live []string
	for _, k := range keys {
		if p := int(k[0]) % 4; !s.dead[p] && !s.refusing[p] {
			live = append(live, k)
		}
	}
	n, err := s.Store.Delete(ctx, live...)
	if err != nil {
		return n, err
	}
	_, err = s.failures(len(keys), func(i int) string { return keys[i] })
	return n, err
}

// A multi-key Delete across parts removes the live parts' keys, counts
// them, and names the dead part's, which may still exist; once that part's
// breaker is open its keys are not sent.
func TestPartialDeleteAcrossParts(t *testing.T) {
	m, s, g := newSharded(t)
	ctx := context.Background()
	keys := []string{"a1", "b1", "a2", "c1"}
	for round := range 8 {
		for _, k := range keys[1:] {
			if err := m.Set(ctx, k, []byte(k), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		n, err := g.Delete(ctx, keys...)
		var pe *store.PartialError
		if !errors.As(err, &pe) || fmt.Sprint(pe.Failed) != "[0 2]" || !errors.Is(err, store.ErrUnavailable) || n != 2 {
			t.Fatalf("round %d: Delete = %d, %v; want 2 and a PartialError naming keys 0 and 2", round, n, err)
		}
		if _, ok, _ := m.Get(ctx, "b1"); ok {
			t.Fatalf("round %d: a live part's key survived", round)
		}
	}
	before := s.calls.Load()
	if _, err := g.Delete(ctx, "a1", "a2"); !errors.Is(err, guard.ErrOpen) {
		t.Fatalf("a Delete of only the open part's keys = %v, want ErrOpen", err)
	}
	if s.calls.Load() != before {
		t.Fatal("keys of an open part reached the store")
	}
}

// The guard offers the optional interfaces exactly when the store it wraps
// has them, so that nothing above it needs to ask which backend it is.
func TestExposedOffersOnlyWhatTheStoreHas(t *testing.T) {
	mem, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name         string
		next         store.Store
		cached, info bool
	}{
		{"plain", mem, false, false},
		{"cached", cachedOnly{mem}, true, false},
		{"info", infoOnly{mem}, false, true},
		{"both", cachedAndInfo{mem}, true, true},
	} {
		g, err := guard.New(c.next, guard.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s := g.Exposed()
		_, cached := s.(store.CachedReader)
		_, info := s.(store.InfoReader)
		if cached != c.cached || info != c.info {
			t.Errorf("%s: CachedReader %v, InfoReader %v; want %v, %v", c.name, cached, info, c.cached, c.info)
		}
		if d := s.(store.Describer).Describe(); d.Backend != "memory" {
			t.Errorf("%s: Describe = %+v, want the wrapped store's", c.name, d)
		}
		ctx := context.Background()
		if err := s.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if cr, ok := s.(store.CachedReader); ok {
			if v, found, _, err := cr.GetCached(ctx, "k", time.Second); err != nil || !found || string(v) != "v" {
				t.Errorf("%s: GetCached = %q, %v, %v", c.name, v, found, err)
			}
			if vs, _, err := cr.GetManyCached(ctx, []string{"k", "none"}, time.Second); err != nil || string(vs[0]) != "v" || vs[1] != nil {
				t.Errorf("%s: GetManyCached = %q, %v", c.name, vs, err)
			}
		}
		if ir, ok := s.(store.InfoReader); ok {
			if v, err := ir.Info(ctx); err != nil || v != "info" {
				t.Errorf("%s: Info = %q, %v", c.name, v, err)
			}
		}
	}
}

// cachedOnly and the others give a memstore the optional interfaces, the
// cached reads answering as plain ones.
type cachedOnly struct{ *memstore.Store }

func (s cachedOnly) GetCached(ctx context.Context, key string, ttl time.Duration) ([]byte, bool, time.Time, error) {
	v, found, err := s.Get(ctx, key)
	return v, found, time.Now().Add(ttl), err
}

func (s cachedOnly) GetManyCached(ctx context.Context, keys []string, ttl time.Duration) ([][]byte, []time.Time, error) {
	vs, err := s.GetMany(ctx, keys)
	return vs, make([]time.Time, len(vs)), err
}

type infoOnly struct{ *memstore.Store }

func (infoOnly) Info(context.Context, ...string) (string, error) { return "info", nil }

type cachedAndInfo struct{ *memstore.Store }

func (s cachedAndInfo) GetCached(ctx context.Context, key string, ttl time.Duration) ([]byte, bool, time.Time, error) {
	return cachedOnly(s).GetCached(ctx, key, ttl)
}

func (s cachedAndInfo) GetManyCached(ctx context.Context, keys []string, ttl time.Duration) ([][]byte, []time.Time, error) {
	return cachedOnly(s).GetManyCached(ctx, keys, ttl)
}

func (cachedAndInfo) Info(context.Context, ...string) (string, error) { return "info", nil }

// A half-open part whose probe keys fail in a batch opens again: the
// batch tells each admitted part its own outcome (it once told a part
// whose keys failed that it had succeeded, closing a dead shard's breaker
// on its probe).
func TestFailedProbeInABatchReopensThePart(t *testing.T) {
	m, _ := memstore.New(memstore.Options{})
	s := &shardedFaulty{Store: m, dead: map[int]bool{1: true}}
	g, err := guard.New(s, guard.Options{OpenTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 10 {
		_, _ = g.GetMany(ctx, []string{"a1", "b1"}) // 'a' is part 1, dead
	}
	if open, _ := g.OpenPartitions(); open != 1 {
		t.Fatalf("%d parts open after the dead part failed 10 times", open)
	}
	time.Sleep(50 * time.Millisecond) // past OpenTimeout: part 1 half-opens
	_, _ = g.GetMany(ctx, []string{"a1", "b1"})
	if open, _ := g.OpenPartitions(); open != 1 {
		t.Fatalf("%d parts open after a failed probe; the dead part closed on it", open)
	}
}

// A call on a closed breaker costs no allocation of the guard's own (no
// closure from gobreaker's TwoStep Allow): the guarded Get allocates what
// the store's own Get does, no more.
func TestClosedBreakerPathAllocatesNothing(t *testing.T) {
	f, g, _ := newFaulty(t, guard.Options{})
	ctx := context.Background()
	if err := g.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	bare := testing.AllocsPerRun(1000, func() { _, _, _ = f.Store.Get(ctx, "k") })
	guarded := testing.AllocsPerRun(1000, func() { _, _, _ = g.Get(ctx, "k") })
	if guarded > bare {
		t.Fatalf("a guarded Get allocates %.0f times, the store's own %.0f", guarded, bare)
	}
}

// The failure-ratio rule still holds with successes counted outside
// gobreaker: calls failing every other time (never five in a row) open
// the breaker once MinRequests calls were made since the first failure
// (the window's count starts there), not before.
func TestFailureRatioTripsAClosedBreaker(t *testing.T) {
	f, g, _ := newFaulty(t, guard.Options{})
	ctx := context.Background()
	calls := 0
	for g.BreakerState() == guard.StateClosed && calls < 100 {
		f.mode.Store(int32(calls % 2)) // fail, succeed, fail, ...
		calls++
		_, _, _ = g.Get(ctx, "k")
	}
	if g.BreakerState() != guard.StateOpen || calls < int(guard.DefaultMinRequests) || calls > int(guard.DefaultMinRequests)+2 {
		t.Fatalf("breaker %v after %d calls failing half the time; want open after %d", g.BreakerState(), calls, guard.DefaultMinRequests)
	}
}
