package main

import (
	"testing"

	"github.com/tradecache/tradecache/internal/leaktest"
)

// TestMain fails the package if any test leaves a goroutine running, and
// removes the command the tests built.
func TestMain(m *testing.M) { leaktest.Main(m, removeBinary) }
