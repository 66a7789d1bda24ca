package feed_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/internal/testkit"
	"github.com/tradecache/tradecache/trading/feed"
)

// pyUpdate is one line python/tests/feed_interop.py prints.
type pyUpdate struct {
	Symbol, Bid, ID  string
	Version, Seq     uint64
	Snapshot, Resync bool
	Ready            bool
	Error, Msg       string
	Stats            map[string]int
}

// A Python subscriber (tradecache.Feed) follows what the Go feed
// publishes: each symbol's snapshot, then every update in order, with no
// gap and no duplicate; an entry planted with a raw XADD (its version not
// its quote's Seq) is refused with BadEntryError, the symbol is read again
// from a snapshot, and the genuine updates after it arrive.
func TestPythonSubscriberFollowsTheGoFeed(t *testing.T) {
	py := testkit.Python(t, "msgpack", "zstandard", "redis")
	srv := redistest.Start(t)
	c := newCache(t, tradecache.Config{Redis: tradecache.RedisConfig{URL: "redis://" + srv.Addr}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := feed.New(c, feed.Options{})
	syms := []string{"PYA", "PYB"}
	publish := func(from, to uint64) {
		t.Helper()
		for seq := from; seq <= to; seq++ {
			for _, s := range syms {
				if ok, err := f.Publish(ctx, quote(s, seq)); err != nil || !ok {
					t.Fatalf("publish %s %d: applied %v, %v", s, seq, ok, err)
				}
			}
		}
	}
	publish(1, 1)

	var stderr testkit.SyncBuffer
	cmd := exec.CommandContext(ctx, py, append([]string{"../../python/tests/feed_interop.py", "redis://" + srv.Addr, "30"}, syms...)...)
	cmd.Env = append(os.Environ(), "CACHE_KEY_PREFIX=trading")
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan pyUpdate, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var u pyUpdate
			if err := json.Unmarshal(sc.Bytes(), &u); err != nil {
				u = pyUpdate{Error: "unparsed", Msg: sc.Text()}
			}
			lines <- u
		}
	}()
	var got []pyUpdate
	for u := range lines {
		got = append(got, u)
		if u.Ready {
			break
		}
	}
	if len(got) == 0 || !got[len(got)-1].Ready {
		_ = cmd.Wait()
		t.Fatalf("the Python subscriber never held both snapshots: %+v\nits stderr:\n%s", got, stderr.String())
	}

	publish(2, 20)
	// Plant an entry on PYA's stream after its last genuine one: a genuine
	// envelope of a quote with Seq 26 under version 1000000026.
	plantEntry(t, ctx, c, srv.Addr, "PYA", "00000000001000000026", 26)
	if t.Failed() {
		t.FailNow()
	}
	publish(21, 30)

	for u := range lines {
		got = append(got, u)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("feed_interop.py: %v; it printed %+v\nits stderr:\n%s", err, got, stderr.String())
	}

	// A resync delivers the symbol's current value again, as Go's
	// Subscribe does: it may repeat the version delivered before it, and
	// only it may. (After the planted entry there can be two: the
	// snapshot's last ID is the planted entry, which the next genuine
	// entry does not name.)
	versions := map[string][]uint64{}
	var badEntries, resyncs int
	for _, u := range got {
		switch {
		case u.Error == "BadEntryError" && strings.Contains(u.Msg, "PYA"):
			badEntries++
		case u.Error != "":
			t.Errorf("the subscriber reported %s: %s", u.Error, u.Msg)
		case u.Symbol != "":
			if u.Seq != u.Version || u.Bid != quote(u.Symbol, u.Seq).Bid.StringFixed(2) {
				t.Errorf("%s: version %d carried seq %d, bid %s", u.Symbol, u.Version, u.Seq, u.Bid)
			}
			vs := versions[u.Symbol]
			if n := len(vs); n > 0 && (u.Version < vs[n-1] || u.Version == vs[n-1] && !u.Resync) {
				t.Errorf("%s: version %d (resync %v) after %v", u.Symbol, u.Version, u.Resync, vs)
			}
			if u.Resync {
				resyncs++
			}
			versions[u.Symbol] = append(vs, u.Version)
		}
	}
	t.Logf("Python received %v; %d refused entries, %d resyncs; its stats %v", versions, badEntries, resyncs, got[len(got)-1].Stats)
	for i, v := range versions["PYB"] {
		if v != uint64(i+1) {
			t.Fatalf("PYB: the Python subscriber received versions %v, want 1 to 30 in order", versions["PYB"])
		}
	}
	if n := len(versions["PYB"]); n != 30 {
		t.Fatalf("PYB: %d updates, want 30", n)
	}
	a := versions["PYA"]
	if len(a) == 0 || a[len(a)-1] != 30 || badEntries != 1 || resyncs < 1 {
		t.Fatalf("PYA: versions %v, %d refused entries, %d resyncs; want up to 30, the planted entry refused once and a resync", a, badEntries, resyncs)
	}
}
