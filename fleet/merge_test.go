package fleet_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tradecache/tradecache/fleet"
)

var ops = []string{"get", "set"}

func snapshot(t *testing.T, st fleet.InstanceStats) []byte {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Parse refuses what no instance publishes, naming why; Merge sums the
// running instances' last intervals and every instance's totals.
func TestParseAndMerge(t *testing.T) {
	good := fleet.InstanceStats{Format: fleet.StatsFormat, Instance: "a", Interval: time.Second,
		Total:  fleet.Window{Counts: fleet.Counts{Hits: 3, Misses: 1}},
		Recent: fleet.Window{Counts: fleet.Counts{Hits: 1}, OpsPerSec: 1, Ops: map[string]fleet.Histogram{}}}
	if _, err := fleet.Parse("a", snapshot(t, good), ops); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(st *fleet.InstanceStats){
		"another format":   func(st *fleet.InstanceStats) { st.Format = 2 },
		"another instance": func(st *fleet.InstanceStats) { st.Instance = "b" },
		"interval":         func(st *fleet.InstanceStats) { st.Interval = time.Millisecond },
		"operation":        func(st *fleet.InstanceStats) { st.Total.Ops = map[string]fleet.Histogram{"drop": {}} },
		"namespace name":   func(st *fleet.InstanceStats) { st.Total.Namespaces = map[string]fleet.NamespaceWindow{"a b": {}} },
		"histogram":        func(st *fleet.InstanceStats) { st.Total.Ops = map[string]fleet.Histogram{"get": {Count: 5}} },
		"hot keys":         func(st *fleet.InstanceStats) { st.HotKeys = make([]fleet.HotKey, fleet.HotKeysPublished+1) },
	}
	for name, spoil := range bad {
		st := good
		spoil(&st)
		if _, err := fleet.Parse("a", snapshot(t, st), ops); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := fleet.Parse("a", []byte(strings.Repeat(" ", fleet.MaxStatsBytes)+"{}"), ops); err == nil {
		t.Error("a snapshot over MaxStatsBytes was accepted")
	}
	b := good
	b.Instance, b.Stopped = "b", true
	f := fleet.Merge([]fleet.InstanceStats{b, good}, []fleet.Refused{{Instance: "c", Reason: "format 2"}})
	if f.Running != 1 || f.Total.Hits != 6 || f.Recent.Hits != 1 || f.Instances[0].Instance != "a" || len(f.Refused) != 1 {
		t.Fatalf("merge: %+v", f)
	}
	if f.Total.HitRate() != 0.75 {
		t.Fatalf("hit rate %v", f.Total.HitRate())
	}
}
