package redistest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// Shared holds a Redis Cluster and a Sentinel group that a whole test
// binary shares, started on first use: starting one costs about 2s, and a
// package's shared integration cases need them dozens of times. Tests that
// kill or reconfigure servers must start their own instead.
//
// Declare one per package, and stop it from TestMain after the tests:
//
//	var topologies redistest.Shared
//
//	func TestMain(m *testing.M) { leaktest.Main(m, topologies.Close) }
type Shared struct {
	mu        sync.Mutex
	tb        *sharedTB
	cluster   *Cluster
	clusterE  error
	sentinel  *SentinelGroup
	sentinelE error
}

// Cluster returns the shared cluster, starting it on first use. A failed
// start fails every test that asks.
func (s *Shared) Cluster(t testing.TB) *Cluster {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cluster == nil && s.clusterE == nil {
		s.clusterE = s.run(func(tb testing.TB) { s.cluster = StartCluster(tb) })
	}
	if s.clusterE != nil {
		t.Fatal(s.clusterE)
	}
	return s.cluster
}

// Sentinel returns the shared Sentinel group, starting it on first use.
func (s *Shared) Sentinel(t testing.TB) *SentinelGroup {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sentinel == nil && s.sentinelE == nil {
		s.sentinelE = s.run(func(tb testing.TB) { s.sentinel = StartSentinel(tb) })
	}
	if s.sentinelE != nil {
		t.Fatal(s.sentinelE)
	}
	return s.sentinel
}

// Close stops every shared server and removes their directories.
func (s *Shared) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tb != nil {
		s.tb.cleanup()
	}
}

// run calls start with a testing.TB whose Fatal turns into the returned
// error and whose cleanups wait for Close.
func (s *Shared) run(start func(testing.TB)) (err error) {
	if s.tb == nil {
		s.tb = &sharedTB{}
	}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(sharedFatal)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("redistest: shared servers: %s", string(f))
		}
	}()
	start(s.tb)
	return nil
}

type sharedFatal string

// sharedTB implements the testing.TB methods the harness calls. The
// embedded interface is nil: any other method panics, which a change to
// the harness would show at once.
type sharedTB struct {
	testing.TB
	cleanups []func()
	dirs     []string
}

func (*sharedTB) Helper()                      {}
func (*sharedTB) Name() string                 { return "redistest.Shared" }
func (*sharedTB) Logf(string, ...any)          {}
func (*sharedTB) Fatal(args ...any)            { panic(sharedFatal(fmt.Sprint(args...))) }
func (*sharedTB) Fatalf(f string, args ...any) { panic(sharedFatal(fmt.Sprintf(f, args...))) }
func (b *sharedTB) Cleanup(f func())           { b.cleanups = append(b.cleanups, f) }

func (b *sharedTB) TempDir() string {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		b.Fatal(err)
	}
	b.dirs = append(b.dirs, dir)
	return dir
}

func (b *sharedTB) cleanup() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
	b.cleanups = nil
	for _, d := range b.dirs {
		_ = os.RemoveAll(d)
	}
	b.dirs = nil
}

// Masters returns the addresses of the cluster's live masters.
func (c *Cluster) Masters() []string {
	var out []string
	for _, n := range c.Nodes {
		if !n.Alive() {
			continue
		}
		if r, err := Role(n.Addr); err == nil && r == "master" {
			out = append(out, n.Addr)
		}
	}
	return out
}

// FlushAll empties every live master (replicas follow), so that tests
// sharing the cluster start from nothing.
func (c *Cluster) FlushAll(t testing.TB) {
	t.Helper()
	for _, a := range c.Masters() {
		if _, err := Do(a, "FLUSHALL"); err != nil {
			t.Fatalf("redistest: FLUSHALL on %s: %v", a, err)
		}
	}
}

// FlushAll empties the current master.
func (g *SentinelGroup) FlushAll(t testing.TB) {
	t.Helper()
	addr, err := g.MasterAddr()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Do(addr, "FLUSHALL"); err != nil {
		t.Fatalf("redistest: FLUSHALL on %s: %v", addr, err)
	}
}
