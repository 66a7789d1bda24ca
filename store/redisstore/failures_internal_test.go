package redisstore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tradecache/tradecache/store"
)

// A batch whose every entry failed is one plain error when the entries
// failed for one reason, and a PartialError with each entry's cause when
// they failed for several (a dead shard and CLUSTERDOWN from the others).
func TestFailuresKeepEachCauseWhenAllFail(t *testing.T) {
	down := fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	clusterDown := fmt.Errorf("%w: CLUSTERDOWN", store.ErrRefused)
	var one failures
	one.add(down, 0, 1, 2)
	if err := one.err(3); err != down {
		t.Fatalf("one cause: %v", err)
	}
	var two failures
	two.add(down, 0)
	two.add(clusterDown, 1, 2)
	var pe *store.PartialError
	if err := two.err(3); !errors.As(err, &pe) || pe.Cause(0) != down || pe.Cause(2) != clusterDown {
		t.Fatalf("two causes: %v, want a PartialError with each entry's cause", err)
	}
}
