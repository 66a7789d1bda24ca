package testlog

import (
	"bytes"
	"log"
	"log/slog"
	"strings"
	"testing"
)

func TestCaptureKeepsTheEnd(t *testing.T) {
	dump := Capture()
	slog.Info("first")
	for range Keep / 50 { // twice Keep
		log.Print(strings.Repeat("x", 99))
	}
	slog.Warn("last words")
	var out bytes.Buffer
	dump(&out)
	s := out.String()
	if strings.Contains(s, "msg=first") || !strings.Contains(s, "last words") || !strings.Contains(s, "earlier bytes of log left out") {
		t.Fatalf("kept %d bytes, first %v, last %v", len(s), strings.Contains(s, "first"), strings.Contains(s, "last words"))
	}
	if len(s) > Keep+100 {
		t.Fatalf("kept %d bytes, over Keep", len(s))
	}
}
