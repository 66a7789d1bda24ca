package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// built is the command, built once for every test of this package that runs
// it as a separate process.
var built struct {
	once sync.Once
	dir  string // removed by TestMain once the tests are done
	path string
	out  []byte
	err  error
}

// buildBinary returns the path of the command built from this package. It
// is built once per test binary, with the race detector when the tests have
// it: go build then reuses every package go test -race compiled (a cold
// make test spent a minute of CPU compiling them all again without -race,
// once per test that built the binary).
func buildBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "tradecache-cli-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "tradecache")
		args := []string{"build", "-o", built.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		built.out, built.err = exec.Command("go", append(args, ".")...).CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.path
}

// removeBinary deletes what buildBinary built.
func removeBinary() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}
