package redistest

import (
	"testing"
	"time"
)

func TestStartCluster(t *testing.T) {
	t0 := time.Now()
	c := StartCluster(t)
	t.Logf("cluster of %d nodes healthy in %v", len(c.Nodes), time.Since(t0))
	for i, slot := range []uint16{0, 5461, 16383} {
		if m := c.Master(t, slot); m != c.Nodes[i] {
			t.Fatalf("slot %d served by %s, want %s", slot, m.Addr, c.Nodes[i].Addr)
		}
	}
	for i := 3; i < 6; i++ {
		if r, err := Role(c.Nodes[i].Addr); err != nil || r != "slave" {
			t.Fatalf("node %d role %q, %v", i, r, err)
		}
	}
	if _, err := Do(c.Nodes[0].Addr, "SET", "foo", "1"); err == nil || err.Error()[:5] != "MOVED" {
		t.Fatalf("SET foo (slot 12182) on the first master: %v, want MOVED", err)
	}
}

func TestStartSentinel(t *testing.T) {
	t0 := time.Now()
	g := StartSentinel(t)
	t.Logf("sentinel group settled in %v", time.Since(t0))
	addr, err := g.MasterAddr()
	if err != nil || addr != g.Master.Addr {
		t.Fatalf("sentinels name %q (%v), want %s", addr, err, g.Master.Addr)
	}
}
