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

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/internal/keyslot"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/internal/testkit"
	"github.com/tradecache/tradecache/trading"
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
	const py = "/usr/bin/python3"
	for _, mod := range []string{"msgpack", "zstandard", "redis"} {
		if out, err := exec.Command(py, "-c", "import "+mod).CombinedOutput(); err != nil {
			t.Fatalf("python module %s missing (%s): run `make test` (it installs python3-%s)", mod, strings.TrimSpace(string(out)), mod)
		}
	}
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
	full := "trading:market_data:" + trading.Key("PYA", trading.KindQuote)
	stream, _ := keyslot.Companion(full, " stream")
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	last, err := raw.Do(ctx, raw.B().Xrevrange().Key(stream).End("+").Start("-").Count(1).Build()).AsXRange()
	if err != nil || len(last) != 1 {
		t.Fatal(last, err)
	}
	if err := c.Namespace(tradecache.NamespaceMarketData).Set(ctx, "planted-scratch", quote("PYA", 26), 0); err != nil {
		t.Fatal(err)
	}
	env, err := raw.Do(ctx, raw.B().Get().Key("trading:market_data:planted-scratch").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Do(ctx, raw.B().Xadd().Key(stream).Id("*").FieldValue().FieldValue("v", "00000000001000000026").
		FieldValue("d", env).FieldValue("p", last[0].ID).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	publish(21, 30)

	for u := range lines {
		got = append(got, u)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("feed_interop.py: %v; it printed %+v\nits stderr:\n%s", err, got, stderr.String())
	}

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
			if u.Resync {
				resyncs++
			}
			versions[u.Symbol] = append(versions[u.Symbol], u.Version)
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
	for i := 1; i < len(a); i++ {
		if a[i] <= a[i-1] {
			t.Fatalf("PYA: versions %v do not rise", a)
		}
	}
	if len(a) == 0 || a[len(a)-1] != 30 || badEntries != 1 || resyncs != 1 {
		t.Fatalf("PYA: versions %v, %d refused entries, %d resyncs; want up to 30, the planted entry refused once and one resync", a, badEntries, resyncs)
	}
}
