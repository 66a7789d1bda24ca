package redistest_test

import (
	"testing"
	"time"

	"github.com/tradecache/tradecache/internal/redistest"
)

// A server stopped for 300 ms shows in the probe: PINGs over the slow
// bound, the longest about as long as the stop; before it, none.
func TestProbeSeesAStoppedServer(t *testing.T) {
	srv := redistest.Start(t)
	p := redistest.StartProbe(srv.Addr, 10*time.Millisecond, 100*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	srv.Stop()
	time.Sleep(300 * time.Millisecond)
	srv.Continue()
	time.Sleep(100 * time.Millisecond)
	r := p.Stop()
	t.Logf("%+v", r)
	if r.Pings < 3 || r.Slow < 1 || r.Longest < 200*time.Millisecond || r.Errs != 0 {
		t.Fatalf("a server stopped for 300 ms: %d PINGs, %d slow, the longest %v, %d errors; want some, at least one slow, the longest over 200ms, none failed",
			r.Pings, r.Slow, r.Longest, r.Errs)
	}
}
