//go:build report

package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tradecache/tradecache/internal/redistest"
)

var reportOut = flag.String("report-out", "", "where to write the bench report's HTML and PNG (default: a temp dir)")

// TestReportScreenshot runs `tradecache bench --html` against a real
// redis-server and photographs the report with headless Chromium, as a
// person would see it, with the network off: make report.
func TestReportScreenshot(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found: apt-get install -y chromium (make report does)")
	}
	dir := *reportOut
	if dir == "" {
		dir = t.TempDir()
	}
	clearRedisEnv(t)
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", "redis://"+srv.Addr)
	html := filepath.Join(dir, "bench-report.html")
	if _, _, err := runCmd(t, "bench", "--phase", "1s", "--html", html); err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(dir, "bench-report.png")
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--window-size=1400,1600", "--screenshot="+png, "file://"+html)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	fi, err := os.Stat(png)
	if err != nil || fi.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v (%d bytes)", png, err, fi.Size())
	}
	t.Logf("report: %s, screenshot: %s", html, png)
}
