package tradecache_test

import (
	"testing"

	"github.com/tradecache/tradecache/internal/leaktest"
)

// TestMain stops the shared cluster and Sentinel group, then fails the
// package if any test left a goroutine running.
func TestMain(m *testing.M) { leaktest.Main(m, topologies.Close) }
