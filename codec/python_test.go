package codec_test

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/testkit"
)

// TestPythonReadsAndWritesTheWireFormat runs Debian's /usr/bin/python3 with
// Debian's msgpack over every golden vector, then reads in Go what Python
// wrote. A missing interpreter or module fails the test; it never skips.
func TestPythonReadsAndWritesTheWireFormat(t *testing.T) {
	python := testkit.Python(t, "msgpack", "zstandard", "cryptography")
	out := filepath.Join(t.TempDir(), "python-written.json")
	abs, _ := filepath.Abs(goldenPath)
	cmd := exec.Command(python, "check_golden.py", abs, out)
	cmd.Dir = "testdata/python"
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the Python reader disagrees with the golden vectors: %v\n%s", err, msg)
	}
	if !strings.Contains(string(msg), "golden vectors checked, 0 failed") {
		t.Fatalf("unexpected Python output:\n%s", msg)
	}
	t.Logf("%s", strings.TrimSpace(string(msg)))

	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var pyOut struct {
		ZoneTable []string `json:"zone_table"`
		Values    []vector `json:"values"`
	}
	if err := json.Unmarshal(b, &pyOut); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pyOut.ZoneTable, codec.ZoneTable[:]) {
		t.Fatalf("Python's zone table differs from codec.ZoneTable:\n%v\n%v", pyOut.ZoneTable, codec.ZoneTable)
	}
	written := pyOut.Values
	if len(written) < 10 {
		t.Fatalf("Python wrote only %d values", len(written))
	}
	c := newCodec(t, codec.Options{})
	for _, w := range written {
		data, _ := hex.DecodeString(w.Hex)
		var v any
		if err := c.Unmarshal("", data, &v); err != nil {
			t.Errorf("%s: Go cannot read what Python wrote: %v", w.Name, err)
			continue
		}
		if got := normalize(t, canonical(v)); !reflect.DeepEqual(got, w.Canonical) {
			t.Errorf("%s: Go decoded %v, Python meant %v", w.Name, got, w.Canonical)
		}
		switch w.Name {
		case "quote":
			var q GoldenQuote
			if err := c.Unmarshal("", data, &q); err != nil || q.Bid.StringFixed(-q.Bid.Exponent()) != "410.10" || q.TS.Nanosecond() != 5000 {
				t.Errorf("quote into a Go struct: %+v, %v", q, err)
			}
		case "time New York":
			var tm time.Time
			if err := c.Unmarshal("", data, &tm); err != nil || tm.Location().String() != "America/New_York" || tm.Format("15:04 MST") != "09:30 EST" {
				t.Errorf("New York time from Python: %v, %v", tm, err)
			}
		case "decimal 150.00":
			var d decimal.Decimal
			if err := c.Unmarshal("", data, &d); err != nil || d.StringFixed(-d.Exponent()) != "150.00" {
				t.Errorf("150.00 from Python came back as %v, %v", d, err)
			}
		}
	}
}
