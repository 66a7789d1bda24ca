package redistest

import (
	"os/exec"
	"strings"
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

// TestServerIsTheOneAskedFor makes `make test-valkey` prove it ran Valkey:
// with REDISTEST_SERVER=valkey-server, the servers must say they are
// Valkey.
func TestServerIsTheOneAskedFor(t *testing.T) {
	s := Start(t)
	info, err := DoString(s.Addr, "INFO", "server")
	if err != nil {
		t.Fatal(err)
	}
	want := "redis"
	if strings.HasPrefix(ServerBinary(), "valkey") {
		want = "valkey"
	}
	name := InfoField(info, "server_name") // Valkey reports it; Redis 7.0 does not
	if name == "" {
		name = "redis"
	}
	if name != want {
		t.Fatalf("%s runs %q, want %q", ServerBinary(), name, want)
	}
	t.Logf("%s: %s %s", ServerBinary(), name, InfoField(info, name+"_version"))
}

// A port the kernel hands out again must not keep an earlier server's
// settings: Do spoke TLS (and sent AUTH) to a plain server that got the
// port of a TLS one, and StartCluster timed out on it. register, which
// every start calls, replaces them.
func TestRegisterReplacesAnEarlierServersSettings(t *testing.T) {
	s := Start(t)
	register(s.Addr, "stale-password", true) // what a TLS server with a password left behind
	if _, err := Do(s.Addr, "PING"); err == nil {
		t.Fatal("the stale settings were not used: this test proves nothing")
	}
	register(s.Addr, "", false) // what starting the plain server records
	if v, err := Do(s.Addr, "PING"); err != nil || v != "PONG" {
		t.Fatalf("PING after register = %v, %v", v, err)
	}
}

// A server that takes a port between FreePort and the start of the one
// meant for it answers that one's PING. run must see that the answer came
// from another process, stop its own, and fail, so that start tries
// another port; a test would otherwise be handed another test's server.
// Here the process run starts is not even a server (sleep), and the port
// is a live server's.
func TestAPortAnsweredByAnotherServerIsRefused(t *testing.T) {
	other := Start(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: other.Addr, Port: other.Port, Dir: t.TempDir(), bin: sleep, args: []string{"30"}}
	t.Cleanup(s.Kill)
	err = s.run()
	if err == nil || !strings.Contains(err.Error(), "answered by another server") {
		t.Fatalf("run with the port of another server = %v, want an error naming it", err)
	}
	if s.Alive() {
		t.Fatal("the process run started is still running")
	}
}
