// Package leaktest fails a test binary that leaves goroutines running.
//
// It wraps go.uber.org/goleak with a longer grace period than goleak's
// own (about half a second): rueidis ends some goroutines after a
// reconnect backoff of up to a second once its client is closed. Those end
// by themselves; a goroutine still alive after Grace is a leak.
package leaktest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tradecache/tradecache/internal/testlog"
	"go.uber.org/goleak"
)

// Grace is how long goroutines may take to finish after the tests.
const Grace = 5 * time.Second

// Main runs the tests, then the after functions (which stop what the
// tests shared, such as redistest.Shared), then fails the binary if
// goroutines outlive Grace. Use it as TestMain:
//
//	func TestMain(m *testing.M) { leaktest.Main(m) }
//
// The default loggers' output is kept aside while the tests run, and shown
// only when they fail (package testlog).
func Main(m *testing.M, after ...func()) {
	dump := testlog.Capture()
	code := m.Run()
	for _, f := range after {
		f()
	}
	if code == 0 {
		deadline := time.Now().Add(Grace)
		err := goleak.Find()
		for err != nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			err = goleak.Find()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "leaktest: goroutines still running %v after the tests: %v\n", Grace, err)
			code = 1
		}
	}
	if code != 0 {
		fmt.Fprintln(os.Stderr, "leaktest: the tests failed; the end of their log:")
		dump(os.Stderr)
	}
	os.Exit(code)
}
