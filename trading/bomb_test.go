package trading_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tradecache/tradecache"
	"github.com/tradecache/tradecache/codec"
	"github.com/tradecache/tradecache/internal/cachetest"
	"github.com/tradecache/tradecache/store/memstore"
	"github.com/tradecache/tradecache/trading"
)

// bombs are the values of the untrusted-input issue, as a hostile writer
// would plant them under a book's key: 1.9 KB of zstd that decompress to
// {"bids": [60 million empty maps]} (before the bounds, Market.Book took
// 18 s and 3.7 GiB of RSS, past a 200 ms deadline, and returned no error),
// and 8 bytes of s2 that declare 64 MiB.
func bombs(t *testing.T) map[string][]byte {
	n := 60_000_000
	payload := append([]byte{0x81, 0xa4, 'b', 'i', 'd', 's', 0xdd, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, bytes.Repeat([]byte{0x80}, n)...)
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"book": append([]byte{0x12}, e.EncodeAll(payload, nil)...),
		"s2":   {0x1c, 0x80, 0x80, 0x80, 0x20, 0x00, 0x00, 0x00},
	}
}

// Each bomb is read through Market.Book in a process of its own (this test
// binary, run again), whose peak RSS and time are what the read cost.
func TestBombsCostLittleInAProcessOfTheirOwn(t *testing.T) {
	if f := os.Getenv("TRADECACHE_BOMB_FILE"); f != "" {
		readBomb(t, f)
		return
	}
	for name, b := range bombs(t) {
		f := t.TempDir() + "/" + name
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestBombsCostLittleInAProcessOfTheirOwn$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "TRADECACHE_BOMB_FILE="+f)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		// The child reports its own high-water mark (VmHWM): the rusage of a
		// child counts the memory of the parent it was forked from.
		var rss int
		if i := bytes.Index(out, []byte("VmHWM:")); i >= 0 {
			fmt.Sscanf(string(out[i+len("VmHWM:"):]), "%d", &rss)
			rss >>= 10 // kB to MiB
		} else {
			t.Fatalf("%s: the child reported no VmHWM:\n%s", name, out)
		}
		t.Logf("%s (%d stored bytes): refused; the reading process peaked at %d MiB RSS, ran %v", name, len(b), rss, took.Round(time.Millisecond))
		if rss > 256 {
			t.Errorf("%s: the reading process peaked at %d MiB RSS", name, rss)
		}
	}
}

func readBomb(t *testing.T, file string) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	mem, _ := memstore.New(memstore.Options{})
	ctx := context.Background()
	c := cachetest.Open(t, tradecache.Config{}, tradecache.WithStore(mem))
	if err := mem.Set(ctx, "trading:market_data:AAPL:book", b, time.Hour); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	book, found, err := trading.NewMarket(c).Book(dctx, "AAPL")
	if found || err == nil || !errorsIsTooLarge(err) {
		t.Fatalf("Book = %d bids, found %v, %v; want ErrTooLarge", len(book.Bids), found, err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("refusing the bomb took %v", took)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Println(line) // read by the parent
		}
	}
}

func errorsIsTooLarge(err error) bool { return errors.Is(err, codec.ErrTooLarge) }
