package models_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/internal/clock"
	"github.com/tradecache/tradecache/internal/leaktest"
	"github.com/tradecache/tradecache/internal/redistest"
	"github.com/tradecache/tradecache/internal/testkit"
	"github.com/tradecache/tradecache/trading/models"
)

var topologies redistest.Shared

func TestMain(m *testing.M) { leaktest.Main(m, topologies.Close) }

// runPython runs python/tests/models_interop.py against the Redis that
// env names; it fails the test, with the script's output, if it fails.
func runPython(t *testing.T, env []string, step string) {
	t.Helper()
	python := testkit.Python(t, "msgpack", "redis")
	cmd := exec.Command(python, "../../python/tests/models_interop.py", step)
	cmd.Env = append(append(os.Environ(), "CACHE_KEY_PREFIX=models"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("models_interop.py %s: %v\n%s", step, err, out)
	}
	t.Log(strings.TrimSpace(string(out)))
}

// expected is models_interop.py's expected(): floats both languages
// compute to the same bits.
func expected(model string, i int) models.Prediction {
	k := 1.0
	if model == "beta" {
		k = 2
	}
	return models.Prediction{Entity: fmt.Sprintf("e%d", i), Score: k * float64(i) / 3,
		Vector: codec.Vector32{float32(k * float64(i) * 0.1), float32(-i), float32(1 / float64(i+1))},
		At:     time.Unix(1795703400+int64(i), int64(5*k)).UTC()}
}

func entities() []string {
	out := make([]string, 50)
	for i := range out {
		out[i] = fmt.Sprintf("e%d", i)
	}
	return out
}

// TestPredictionsAcrossLanguagesAndVersions, on one server and on a
// Cluster: a Python model's predictions (vectors, scores, times) are read
// by Go exactly, to the bit; Go's are read by Python exactly; and after a
// new version is deployed, by Go or by Python, both read the old
// version's predictions as absent.
func TestPredictionsAcrossLanguagesAndVersions(t *testing.T) {
	t.Run("standalone", func(t *testing.T) {
		srv := redistest.Start(t)
		testPredictions(t, tradecache.RedisConfig{URL: "redis://" + srv.Addr}, []string{"REDIS_URL=redis://" + srv.Addr})
	})
	t.Run("cluster", func(t *testing.T) {
		cl := topologies.Cluster(t)
		cl.FlushAll(t)
		testPredictions(t, tradecache.RedisConfig{ClusterAddrs: cl.Addrs()}, []string{"REDIS_CLUSTER_ADDRS=" + strings.Join(cl.Addrs(), ",")})
	})
}

func testPredictions(t *testing.T, rc tradecache.RedisConfig, env []string) {
	off := false
	c, err := tradecache.New(context.Background(), tradecache.Config{KeyPrefix: "models", LogSlowOps: &off, OpTimeout: 2 * time.Second,
		BatchTimeout: 5 * time.Second, Redis: rc})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	m := models.New(c)
	runPython(t, env, "write")
	got, err := m.Predictions(ctx, "alpha", "v1", entities())
	if err != nil || len(got) != 50 {
		t.Fatalf("Go reads %d of Python's 50 predictions: %v", len(got), err)
	}
	for i := range 50 {
		want, p := expected("alpha", i), got[fmt.Sprintf("e%d", i)]
		if p.Model != "alpha" || p.Version != "v1" || math.Float64bits(p.Score) != math.Float64bits(want.Score) || !p.At.Equal(want.At) || len(p.Vector) != 3 {
			t.Fatalf("e%d: Go read %+v, Python meant %+v", i, p, want)
		}
		for j := range want.Vector {
			if math.Float32bits(p.Vector[j]) != math.Float32bits(want.Vector[j]) {
				t.Fatalf("e%d vector[%d]: %x, want %x", i, j, math.Float32bits(p.Vector[j]), math.Float32bits(want.Vector[j]))
			}
		}
	}
	if v, found, err := m.Current(ctx, "alpha"); err != nil || !found || v != "v1" {
		t.Fatalf("alpha's current version: %q %v %v", v, found, err)
	}
	beta := make([]models.Prediction, 50)
	for i := range beta {
		beta[i] = expected("beta", i)
	}
	if err := m.PutPredictions(ctx, "beta", "v1", beta, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Deploy(ctx, "beta", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Deploy(ctx, "alpha", "v2"); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Predictions(ctx, "alpha", "v1", entities()); err != nil || len(got) != 0 {
		t.Fatalf("after deploying alpha v2, Go reads %d predictions of v1: %v", len(got), err)
	}
	runPython(t, env, "check")
	if got, err := m.Predictions(ctx, "beta", "v1", entities()); err != nil || len(got) != 0 {
		t.Fatalf("after Python deployed beta v2, Go reads %d predictions of v1: %v", len(got), err)
	}
}

// TestFeaturesLoadMissingInOneCallAndAgeOut: a batch read of features
// loads all the missing entities in one call and serves the rest from
// the cache; features older than the set's MaxAge are loaded again, not
// served; and a new version's deployment leaves the old version's
// features absent.
func TestFeaturesLoadMissingInOneCallAndAgeOut(t *testing.T) {
	clk := clock.New(time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC))
	c := cachetest.Open(t, tradecache.Config{}, tradecache.WithClock(clk))
	ctx := context.Background()
	m := models.New(c)
	set := models.FeatureSet{Name: "momentum", Version: "v1", MaxAge: time.Minute}
	var calls [][]string
	load := func(_ context.Context, missing []string) (map[string]models.Features, error) {
		calls = append(calls, missing)
		out := map[string]models.Features{}
		for _, e := range missing {
			out[e] = models.Features{Values: codec.Vector32{float32(len(calls)), 0.5}, At: clk.Now()}
		}
		return out, nil
	}
	ents := []string{"AAPL", "MSFT", "NVDA"}
	if err := m.PutFeatures(ctx, set, []models.Features{{Entity: "AAPL", Values: codec.Vector32{9, 9}}}); err != nil {
		t.Fatal(err)
	}
	got, err := m.Features(ctx, set, ents, load)
	if err != nil || len(got) != 3 || len(calls) != 1 || fmt.Sprint(calls[0]) != "[MSFT NVDA]" {
		t.Fatalf("first read: %v, %v; loader calls %v, want one for MSFT and NVDA", got, err, calls)
	}
	if got["AAPL"].Values[0] != 9 || got["MSFT"].Values[0] != 1 || got["NVDA"].Entity != "NVDA" {
		t.Fatalf("first read: %+v", got)
	}
	clk.Advance(30 * time.Second)
	if got, err = m.Features(ctx, set, ents, load); err != nil || len(calls) != 1 || got["MSFT"].Values[0] != 1 {
		t.Fatalf("within MaxAge: %v, %v, loader calls %d", got, err, len(calls))
	}
	clk.Advance(31 * time.Second) // MSFT and NVDA are 61 s old now
	if got, err = m.Features(ctx, set, ents, load); err != nil || len(calls) != 2 || got["MSFT"].Values[0] != 2 {
		t.Fatalf("past MaxAge: %v, %v, loader calls %v: features older than their bound served as current", got, err, calls)
	}
	if err := m.Deploy(ctx, "momentum", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Deploy(ctx, "momentum", "v2"); err != nil {
		t.Fatal(err)
	}
	if got, err = m.Features(ctx, set, ents, load); err != nil || len(calls) != 3 || len(calls[2]) != 3 {
		t.Fatalf("after deploying v2, v1's features: %v, %v, loader calls %v; want all three loaded again", got, err, calls)
	}
	if _, err := m.Features(ctx, models.FeatureSet{Name: "bad:name", Version: "v1"}, ents, load); err == nil {
		t.Fatal("a feature set name with ':' was accepted")
	}
}
