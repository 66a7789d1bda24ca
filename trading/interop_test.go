package trading_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/internal/testkit"
	"github.com/tradecache/tradecache/trading"
)

// interopKey is the sealing key both languages are given, as a service
// would be: CACHE_ENCRYPTION_KEYS.
var interopKey = codec.Key{ID: "interop", Secret: []byte("0123456789abcdef0123456789abcdef")}

// runPython runs python/tests/interop.py with the package on its path and
// the environment a service would have; it fails the test, with its
// output, if the script fails.
func runPython(t *testing.T, args ...string) string {
	t.Helper()
	python := testkit.Python(t, "msgpack", "zstandard", "cryptography", "redis")
	cmd := exec.Command(python, append([]string{"../python/tests/interop.py"}, args...)...)
	cmd.Env = append(os.Environ(), "CACHE_KEY_PREFIX=interop",
		"CACHE_ENCRYPTION_KEYS=interop:"+base64.StdEncoding.EncodeToString(interopKey.Secret))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("interop.py %s: %v\n%s", args[0], err, out)
	}
	return string(out)
}

func interopCache(t *testing.T, url string) *tradecache.Cache {
	off := false
	return cachetest.Open(t, tradecache.Config{KeyPrefix: "interop", LogSlowOps: &off,
		EncryptionKeys: []codec.Key{interopKey}, OpTimeout: 2 * time.Second,
		Redis: tradecache.RedisConfig{URL: url}})
}

// Go and Python share one cache: Go writes every golden vector's value and
// real trading values through the public API and Python reads them with
// exact equality; Python writes and Go reads them into typed values; a Go
// writer and a Python writer race version-guarded quotes on one key, and
// the highest version wins.
func TestGoAndPythonShareTheCache(t *testing.T) {
	srv := redistest.Start(t)
	url := "redis://" + srv.Addr
	c := interopCache(t, url)
	ctx := context.Background()

	// Go → Python: every golden vector's value, decoded by Go and stored
	// again through Namespace.Set; Python must read its canonical form.
	b, err := os.ReadFile("../codec/testdata/golden/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct {
		Name, Hex, Error string
		StorageKey       string `json:"storage_key"`
		Canonical        any
	}
	if err := json.Unmarshal(b, &vectors); err != nil {
		t.Fatal(err)
	}
	ring, err := codec.NewKeyring(codec.Key{ID: "golden", Secret: func() []byte {
		k := make([]byte, 32)
		for i := range k {
			k[i] = byte(i)
		}
		return k
	}()})
	if err != nil {
		t.Fatal(err)
	}
	reader, err := codec.New(codec.Options{Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	type expect struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		Key       string `json:"key"`
		Canonical any    `json:"canonical"`
	}
	var expected []expect
	golden := c.Namespace("golden")
	for _, v := range vectors {
		if v.Error != "" || v.Name == "s2" {
			continue // refused by design, or Go-only
		}
		data, _ := hex.DecodeString(v.Hex)
		var val any
		if err := reader.Unmarshal(v.StorageKey, data, &val); err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		key := strings.NewReplacer(" ", "_").Replace(v.Name)
		if err := golden.Set(ctx, key, val, time.Minute); err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		expected = append(expected, expect{v.Name, "golden", key, v.Canonical})
	}
	ny, _ := time.LoadLocation("America/New_York")
	m := trading.NewMarket(c)
	if ok, err := m.CacheQuote(ctx, trading.Quote{Symbol: "AAPL", Bid: decimal.RequireFromString("189.25"), Ask: decimal.RequireFromString("189.27"),
		BidSize: decimal.RequireFromString("100"), AskSize: decimal.RequireFromString("0.5"), Seq: 42,
		At: time.Date(2026, 11, 26, 9, 30, 0, 123456789, ny)}); err != nil || !ok {
		t.Fatalf("CacheQuote: %v %v", ok, err)
	}
	p := trading.NewPortfolios(c)
	tok, err := p.Generation(ctx, "P-1", trading.DependsOn("AAPL"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CacheRiskCalculation(ctx, "P-1", "VaR", decimal.RequireFromString("-23456.78"), tok); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "expected.json")
	eb, _ := json.Marshal(expected)
	if err := os.WriteFile(path, eb, 0o644); err != nil {
		t.Fatal(err)
	}
	out := runPython(t, "read", url, path)
	t.Logf("Go wrote, Python read (%d cases):\n%s", len(expected)+2, out)

	// Python → Go, into typed values.
	runPython(t, "write", url)
	var report []string
	check := func(name string, ok bool, got any) {
		t.Helper()
		word := "exact"
		if !ok {
			word = "DIFFERS"
			t.Errorf("python->go %s: got %+v", name, got)
		}
		report = append(report, fmt.Sprintf("python->go  %s  %s", word, name))
	}
	q, found, err := m.Quote(ctx, "MSFT")
	check("quote into trading.Quote", err == nil && found && q.Bid.String() == "410.1" && q.Bid.Exponent() == -2 &&
		q.AskSize.Exponent() == -1 && q.Seq == 7 && q.At.Nanosecond() == 123456789 && q.At.Location().String() == "America/New_York" &&
		q.At.Format("15:04 MST") == "09:30 EST", q)
	def := c.Namespace(tradecache.NamespaceDefault)
	var d decimal.Decimal
	_, err = def.Get(ctx, "py:decimal", &d)
	check("decimal -0.00000001", err == nil && d.Coefficient().Int64() == -1 && d.Exponent() == -8, d)
	_, err = def.Get(ctx, "py:big", &d)
	check("decimal -2^127 - 0.5 (general form)", err == nil && d.String() == "-170141183460469231731687303715884105728.5", d)
	var tm time.Time
	_, err = def.Get(ctx, "py:time", &tm)
	check("time 1900-01-01Z (wide form)", err == nil && tm.Equal(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)) && tm.Location() == time.UTC, tm)
	var ints map[int]string
	_, err = def.Get(ctx, "py:ints", &ints)
	check("map with integer keys into map[int]string", err == nil && ints[-2] == "y" && ints[10] == "x" && len(ints) == 3, ints)
	var features struct {
		Momentum decimal.Decimal `json:"momentum"`
		AsOf     time.Time       `json:"as_of"`
		Window   []int           `json:"window"`
	}
	_, err = def.Get(ctx, "py:features", &features)
	check("features into a struct (decimal, zoned datetime, list)", err == nil && features.Momentum.String() == "0.125" &&
		features.AsOf.Location().String() == "America/New_York" && features.AsOf.Hour() == 3 && len(features.Window) == 3, features)
	var sess trading.Session
	_, err = c.Namespace(tradecache.NamespaceSession).Get(ctx, "py-s1", &sess)
	check("sealed session into trading.Session", err == nil && sess.User == "quant" && sess.Data["desk"] == "rates" &&
		sess.CreatedAt.Nanosecond() == 5, sess)
	v, found, err := p.RiskCalculation(ctx, "P-2", "VaR")
	check("risk calculation under Python's generation", err == nil && found && v.String() == "-999.99", v)
	if err := p.InvalidateSymbol(ctx, "MSFT"); err != nil {
		t.Fatal(err)
	}
	_, found, err = p.RiskCalculation(ctx, "P-2", "VaR")
	check("Go's InvalidateSymbol invalidates Python's calculation", err == nil && !found, found)
	t.Logf("Python wrote, Go read:\n%s", strings.Join(report, "\n"))

	// The race: Go publishes the even versions and Python the odd ones,
	// each shuffled, at once; the stored quote is the highest.
	for round := range 3 {
		sym := fmt.Sprintf("RACE%d", round)
		const n = 200
		var pySeqs []string
		var goNums []uint64
		for s := uint64(1); s <= n; s++ {
			if s%2 == 0 {
				goNums = append(goNums, s)
			} else {
				pySeqs = append(pySeqs, fmt.Sprint(s))
			}
		}
		rand.Shuffle(len(goNums), func(i, j int) { goNums[i], goNums[j] = goNums[j], goNums[i] })
		rand.Shuffle(len(pySeqs), func(i, j int) { pySeqs[i], pySeqs[j] = pySeqs[j], pySeqs[i] })
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			runPython(t, "race", url, sym, strings.Join(pySeqs, ","))
		}()
		for _, s := range goNums {
			if _, err := m.CacheQuote(ctx, trading.Quote{Symbol: sym, Bid: decimal.New(100, -2), Seq: s, At: time.Now()}); err != nil {
				t.Error(err)
			}
		}
		wg.Wait()
		q, _, err := m.Quote(ctx, sym)
		if err != nil || q.Seq != n {
			t.Fatalf("round %d: the stored quote is at version %d (%v), want %d, the highest of both writers", round, q.Seq, err, n)
		}
	}
	t.Logf("race: 3 rounds of 100 Go and 100 Python versions shuffled on one key; the highest (200) won each time")
}

// TestGoAndPythonHonourTags: a value Go tags is read by Python, which
// invalidates the tag, and Go then reads it as absent; values Python tags
// (by set with tokens read first, and by get_or_load) are read by Go,
// which invalidates their tag, and Python then reads them as absent.
func TestGoAndPythonHonourTags(t *testing.T) {
	srv := redistest.Start(t)
	url := "redis://" + srv.Addr
	c := interopCache(t, url)
	ctx := context.Background()
	risk := c.Namespace(tradecache.NamespaceRisk)
	if err := risk.Set(ctx, "go-tagged", decimal.RequireFromString("1.50"), 0, tradecache.Tagged("sym:AAPL")); err != nil {
		t.Fatal(err)
	}
	if err := risk.Set(ctx, "plain", 7, 0); err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(runPython(t, "tags", url, "1")))
	var d decimal.Decimal
	if found, err := risk.Get(ctx, "go-tagged", &d); err != nil || found {
		t.Fatalf("Go reads %v (%v, %v) after Python's invalidate_tag", d, found, err)
	}
	for k, want := range map[string]string{"py-tagged": "2.25", "py-loaded": "3.00"} {
		if found, err := risk.Get(ctx, k, &d); err != nil || !found || d.StringFixed(2) != want || d.Exponent() != -2 {
			t.Fatalf("Go reads Python's tagged %s as %v, %v, %v", k, d, found, err)
		}
	}
	if err := c.InvalidateTag(ctx, "sym:MSFT"); err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(runPython(t, "tags", url, "2")))
}
