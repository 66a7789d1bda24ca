package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/store"
	"github.com/tradecache/tradecache/store/redisstore"
)

// Publish reads the previous entry's ID from the version key, where the
// last Publish left it, not from the stream (one XREVRANGE a publish
// fewer). An entry appended to the stream by raw XADD is then never a
// genuine entry's p, a lost stream still chains from the last published
// entry, and a version key without an ID (plain SetIfNewer) falls back to
// the stream's last entry.
func TestPublishChainsFromTheVersionKey(t *testing.T) {
	ctx, s, raw := storeAndRaw(t)
	pub := func(v uint64) string {
		t.Helper()
		ok, id, err := s.Publish(ctx, store.Publication{Key: "q", VerKey: "q ver", Stream: "q stream", Value: []byte("x"), Version: v, TTL: time.Minute,
			Retention: store.Retention{MaxAge: time.Hour}})
		if err != nil || !ok {
			t.Fatalf("Publish(%d) = %v, %v", v, ok, err)
		}
		return id
	}
	prevOf := func(id string) string {
		t.Helper()
		es, err := raw.Do(ctx, raw.B().Xrange().Key("q stream").Start(id).End(id).Build()).AsXRange()
		if err != nil || len(es) != 1 {
			t.Fatalf("XRANGE %s: %v %v", id, es, err)
		}
		return es[0].FieldValues["p"]
	}
	calls := func(cmd string) (n int64) {
		info, _ := raw.Do(ctx, raw.B().Info().Section("commandstats").Build()).ToString()
		fmt.Sscanf(redistest.InfoField(info, "cmdstat_"+cmd), "calls=%d", &n)
		return n
	}
	first := pub(1)
	xrev := calls("xrevrange")
	second := pub(2)
	if got := prevOf(second); got != first {
		t.Fatalf("entry 2's p = %q, want entry 1's ID %q", got, first)
	}
	if n := calls("xrevrange") - xrev; n != 0 {
		t.Fatalf("a publish after another read the stream with XREVRANGE %d times; the version key holds the ID", n)
	}
	// A planted entry is not a genuine entry's predecessor.
	planted, err := raw.Do(ctx, raw.B().Xadd().Key("q stream").Id("*").FieldValue().FieldValue("v", "00000000000000000099").FieldValue("d", "x").FieldValue("p", second).Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	third := pub(3)
	if got := prevOf(third); got != second {
		t.Fatalf("after a planted entry %s, entry 3's p = %q, want entry 2's ID %q", planted, got, second)
	}
	// The stream lost: the next entry still names the last one published.
	if err := raw.Do(ctx, raw.B().Del().Key("q stream").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	fourth := pub(4)
	if got := prevOf(fourth); got != third {
		t.Fatalf("after the stream was lost, entry 4's p = %q, want entry 3's ID %q", got, third)
	}
	// A version key without an ID: the stream's last entry.
	if err := raw.Do(ctx, raw.B().Set().Key("q ver").Value("00000000000000000004").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	fifth := pub(5)
	if got := prevOf(fifth); got != fourth {
		t.Fatalf("with a version key holding no ID, entry 5's p = %q, want the stream's last entry %q", got, fourth)
	}
}

func newRaw(t *testing.T, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// commandCalls is how many times the server has run cmd (INFO
// commandstats).
func commandCalls(t *testing.T, raw rueidis.Client, cmd string) (n int64) {
	t.Helper()
	info, err := raw.Do(context.Background(), raw.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscanf(redistest.InfoField(info, "cmdstat_"+cmd), "calls=%d", &n)
	return n
}

// Concurrent Publish calls share calls of the script (group commit), and
// each still gets its own result: every publication applied once, in its
// key's order, each entry chained to the one before it.
func TestConcurrentPublishesShareScriptCalls(t *testing.T) {
	ctx, s, raw := storeAndRaw(t)
	const workers, each = 50, 100
	before := commandCalls(t, raw, "evalsha") + commandCalls(t, raw, "eval")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	ids := make([][]string, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := fmt.Sprintf("{w%d}", w)
			for v := uint64(1); v <= each; v++ {
				ok, id, err := s.Publish(ctx, store.Publication{Key: k, VerKey: k + " ver", Stream: k + " stream", Value: []byte(fmt.Sprint(v)), Version: v, TTL: time.Minute})
				if err != nil || !ok {
					errs <- fmt.Errorf("%s: Publish(%d) = %v, %v", k, v, ok, err)
					return
				}
				ids[w] = append(ids[w], id)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	calls := commandCalls(t, raw, "evalsha") + commandCalls(t, raw, "eval") - before
	t.Logf("%d publications in %d script calls", workers*each, calls)
	if calls >= workers*each/2 {
		t.Fatalf("%d concurrent publications took %d script calls: they do not share them", workers*each, calls)
	}
	for w := range workers {
		k := fmt.Sprintf("{w%d}", w)
		es, err := raw.Do(ctx, raw.B().Xrange().Key(k+" stream").Start("-").End("+").Build()).AsXRange()
		if err != nil || len(es) != each {
			t.Fatalf("%s: %d entries (%v), want %d", k, len(es), err, each)
		}
		for i, e := range es {
			prev := ""
			if i > 0 {
				prev = es[i-1].ID
			}
			if e.ID != ids[w][i] || e.FieldValues["p"] != prev || e.FieldValues["d"] != fmt.Sprint(i+1) {
				t.Fatalf("%s entry %d = %s %v, want ID %s, p %q, d %d", k, i, e.ID, e.FieldValues, ids[w][i], prev, i+1)
			}
		}
		if v, _ := raw.Do(ctx, raw.B().Get().Key(k).Build()).ToString(); v != fmt.Sprint(each) {
			t.Fatalf("%s = %q, want %d", k, v, each)
		}
	}
}

// A publication that fails on the server (its stream key holds a string)
// fails alone: the others sent in the same script call are applied.
func TestABadKeyFailsOnlyItsOwnPublication(t *testing.T) {
	ctx, s, raw := storeAndRaw(t)
	if err := raw.Do(ctx, raw.B().Set().Key("b stream").Value("not a stream").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	pub := func(k string) store.Publication {
		return store.Publication{Key: k, VerKey: k + " ver", Stream: k + " stream", Value: []byte("x"), Version: 1, TTL: time.Minute}
	}
	rs, err := s.PublishMany(ctx, []store.Publication{pub("a"), pub("b"), pub("c")})
	if err != nil {
		t.Fatal(err)
	}
	if !rs[0].Applied || rs[0].Err != nil || !rs[2].Applied || rs[2].Err != nil {
		t.Fatalf("the good publications beside a bad one: %+v", rs)
	}
	if rs[1].Applied || rs[1].Err == nil || !strings.Contains(rs[1].Err.Error(), "WRONGTYPE") {
		t.Fatalf("the publication to a string: %+v, want WRONGTYPE", rs[1])
	}
}

// Publications of different namespaces (their own TTL and retention) sent
// in one call each keep their own: the call carries each parameter set
// once, and a publication names its own, not its neighbour's.
func TestPublicationsInOneCallKeepTheirOwnParameters(t *testing.T) {
	ctx, s, raw := storeAndRaw(t)
	type want struct {
		ttl    time.Duration
		maxLen int64
	}
	wants := []want{{time.Minute, 5}, {time.Hour, 0}, {time.Minute, 5}, {10 * time.Minute, 3}, {time.Hour, 0}}
	const rounds = 20
	// Nodes of 2 entries, so that MAXLEN ~ (which drops whole nodes)
	// trims a short stream.
	if err := raw.Do(ctx, raw.B().ConfigSet().ParameterValue().ParameterValue("stream-node-max-entries", "2").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	for v := uint64(1); v <= rounds; v++ {
		var ps []store.Publication
		for i, w := range wants {
			k := fmt.Sprint("k", i)
			ps = append(ps, store.Publication{Key: k, VerKey: k + " ver", Stream: k + " stream", Value: []byte(fmt.Sprint("x", v)), Version: v,
				TTL: w.ttl, Retention: store.Retention{MaxLen: w.maxLen}})
		}
		before := commandCalls(t, raw, "evalsha") + commandCalls(t, raw, "eval")
		rs, err := s.PublishMany(ctx, ps)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			if !r.Applied || r.Err != nil || r.ID == "" {
				t.Fatalf("round %d, publication %d: %+v", v, i, r)
			}
		}
		// (The first call finds no script and sends its text: two.)
		if n := commandCalls(t, raw, "evalsha") + commandCalls(t, raw, "eval") - before; v > 1 && n != 1 {
			t.Fatalf("%d publications of 3 parameter sets took %d script calls, want 1", len(ps), n)
		}
	}
	for i, w := range wants {
		k := fmt.Sprint("k", i)
		pttl, err := raw.Do(ctx, raw.B().Pttl().Key(k).Build()).AsInt64()
		if err != nil || pttl <= (w.ttl-time.Minute/2).Milliseconds() || pttl > w.ttl.Milliseconds() {
			t.Fatalf("%s: PTTL %d ms (%v), want just under its own TTL %v", k, pttl, err, w.ttl)
		}
		n, err := raw.Do(ctx, raw.B().Xlen().Key(k+" stream").Build()).AsInt64()
		switch {
		case err != nil:
			t.Fatal(err)
		case w.maxLen == 0 && n != rounds:
			t.Fatalf("%s: %d entries, want all %d (no MAXLEN)", k, n, rounds)
		case w.maxLen > 0 && n >= rounds:
			t.Fatalf("%s: %d entries, want its own MAXLEN %d to have trimmed it", k, n, w.maxLen)
		}
	}
}

// The stream's expiry is renewed once a span of half its life, not on
// every publish, and it still outlives the value.
func TestPublishRenewsTheStreamsExpiryOncePerSpan(t *testing.T) {
	ctx, s, raw := storeAndRaw(t)
	before := commandCalls(t, raw, "pexpire")
	const n = 100
	for v := uint64(1); v <= n; v++ {
		if ok, _, err := s.Publish(ctx, store.Publication{Key: "q", VerKey: "q ver", Stream: "q stream", Value: []byte("x"), Version: v, TTL: time.Hour}); err != nil || !ok {
			t.Fatalf("Publish(%d) = %v, %v", v, ok, err)
		}
	}
	// The first publish renews it, and at most one more when the
	// publishes straddle the edge of a 30-minute span.
	if got := commandCalls(t, raw, "pexpire") - before; got < 1 || got > 2 {
		t.Fatalf("%d publishes renewed the stream's expiry %d times, want 1 or 2", n, got)
	}
	value, err1 := raw.Do(ctx, raw.B().Pttl().Key("q").Build()).AsInt64()
	stream, err2 := raw.Do(ctx, raw.B().Pttl().Key("q stream").Build()).AsInt64()
	if err1 != nil || err2 != nil || value <= 0 || stream < value+time.Hour.Milliseconds()/2 {
		t.Fatalf("PTTL value %d, stream %d (%v %v): the stream must outlive the value by half its life", value, stream, err1, err2)
	}
}

// PublishMany runs the script by its SHA in the batch's one round trip, not
// after a SCRIPT LOAD on every node (rueidis's Lua.ExecMulti), and by its
// text when the server has lost it.
func TestPublishManyDoesNotLoadTheScriptEachTime(t *testing.T) {
	ctx, s, raw := storeAndRaw(t)
	pubs := func(v uint64) []store.Publication {
		var ps []store.Publication
		for _, k := range []string{"a", "b", "c"} {
			ps = append(ps, store.Publication{Key: k, VerKey: k + " ver", Stream: k + " stream", Value: []byte("x"), Version: v, TTL: time.Minute})
		}
		return ps
	}
	for v := uint64(1); v <= 3; v++ {
		if v == 3 {
			if err := raw.Do(ctx, raw.B().ScriptFlush().Build()).Error(); err != nil {
				t.Fatal(err)
			}
		}
		rs, err := s.PublishMany(ctx, pubs(v))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			if !r.Applied || r.Err != nil {
				t.Fatalf("round %d, publication %d: %+v", v, i, r)
			}
		}
	}
	if n := commandCalls(t, raw, "script|load"); n != 0 {
		t.Fatalf("3 PublishMany calls loaded the script %d times", n)
	}
}

// Across many spans of a short life, after every publish the stream still
// expires no sooner than the value.
func TestTheStreamOutlivesTheValueAcrossSpans(t *testing.T) {
	ctx, s, raw := storeAndRaw(t)
	const ttl = 200 * time.Millisecond // spans of 100 ms
	for v := uint64(1); v <= 60; v++ {
		if ok, _, err := s.Publish(ctx, store.Publication{Key: "q", VerKey: "q ver", Stream: "q stream", Value: []byte("x"), Version: v, TTL: ttl}); err != nil || !ok {
			t.Fatalf("Publish(%d) = %v, %v", v, ok, err)
		}
		rs := raw.DoMulti(ctx, raw.B().Pttl().Key("q").Build(), raw.B().Pttl().Key("q stream").Build())
		value, err1 := rs[0].AsInt64()
		stream, err2 := rs[1].AsInt64()
		if err1 != nil || err2 != nil || stream < value {
			t.Fatalf("after publish %d: PTTL value %d, stream %d (%v %v): the stream would expire first", v, value, stream, err1, err2)
		}
		time.Sleep(time.Duration(v%7) * 5 * time.Millisecond)
	}
}

// storeAndRaw starts a server and opens a store and a raw client on it,
// closed when the test ends.
func storeAndRaw(t *testing.T) (context.Context, *redisstore.Store, rueidis.Client) {
	t.Helper()
	srv := redistest.Start(t)
	s := newStoreWith(t, rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	t.Cleanup(func() { s.Close() })
	return context.Background(), s, newRaw(t, srv.Addr)
}
