package memstore_test

import (
	"testing"

	"github.com/tradecache/tradecache/internal/leaktest"
)

// TestMain fails the package if any test leaves a goroutine running.
func TestMain(m *testing.M) { leaktest.Main(m) }
