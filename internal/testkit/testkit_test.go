package testkit

import (
	"testing"
	"time"
)

func TestPollWaitsForTheConditionAndNoLonger(t *testing.T) {
	start := time.Now()
	n := 0
	if !Poll(10*time.Second, func() bool { n++; return n == 5 }) {
		t.Fatal("Poll gave up on a condition that held on its fifth look")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Poll took %v for a condition that held on its fifth look", d)
	}
	start = time.Now()
	if Poll(30*time.Millisecond, func() bool { return false }) {
		t.Fatal("Poll reported a condition that never held")
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("Poll gave up after %v, before its 30ms", d)
	}
}
