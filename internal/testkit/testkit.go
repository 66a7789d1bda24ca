// Package testkit holds what the tests of every package share: waiting
// for a condition to hold, instead of a hand-written loop against a
// deadline in each test.
package testkit

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Eventually waits until cond holds, checking it at once and then at
// growing intervals up to 50 ms, and fails t with what when timeout passes
// first. Give a timeout far above what the condition needs on an idle
// machine: a test fails only when the behaviour is wrong, not because a
// busy machine was slow to show it.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("not within %v: %s", timeout, what)
	}
}

// Poll waits until cond holds and reports true, or false once timeout has
// passed without it holding.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for wait := time.Millisecond; !cond(); wait = min(2*wait, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			return cond()
		}
		time.Sleep(wait)
	}
	return true
}

// SyncBuffer is a buffer that a logger or a child process may write from
// one goroutine while the test reads it from another.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Python is Debian's interpreter, the one the tests that run Python
// children use, after checking that it can import each of modules (Debian
// names its package python3-<module>). A missing interpreter or module
// fails t with how to install it; it never skips.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s not found: run `make test` (it installs what the tests need) or `apt-get install -y python3`", python)
	}
	for _, mod := range modules {
		if out, err := exec.Command(python, "-c", "import "+mod).CombinedOutput(); err != nil {
			t.Fatalf("python module %s missing (%s): run `make test` (it installs it), or `apt-get install -y python3-%s`",
				mod, strings.TrimSpace(string(out)), mod)
		}
	}
	return python
}
