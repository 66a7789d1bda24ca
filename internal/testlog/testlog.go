// Package testlog keeps a test binary's log output (log/slog's default
// logger and the standard log package) out of `make test`'s output, and
// shows it when the tests fail: the failures must stand out, not be lost
// among thousands of INFO and WARN lines written by Caches that the tests
// make fail on purpose.
package testlog

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"sync"
)

// Keep is how much of the log is kept: the end of it, which is nearest the
// failure.
const Keep = 32 << 10

// Capture sends the default loggers into a buffer that keeps the last
// Keep bytes, and returns a function that writes what was kept to w.
func Capture() (dump func(w io.Writer)) {
	r := &ring{}
	slog.SetDefault(slog.New(slog.NewTextHandler(r, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log.SetOutput(r) // after slog.SetDefault, which points log at the old handler
	return func(w io.Writer) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.dropped > 0 {
			fmt.Fprintf(w, "testlog: (%d earlier bytes of log left out)\n", r.dropped)
		}
		w.Write(r.buf)
	}
}

// ring is an io.Writer that keeps the last Keep bytes written to it.
type ring struct {
	mu      sync.Mutex
	buf     []byte
	dropped int
}

func (r *ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	if over := len(r.buf) - Keep; over > 0 {
		r.dropped += over
		r.buf = append(r.buf[:0], r.buf[over:]...)
	}
	return len(p), nil
}
