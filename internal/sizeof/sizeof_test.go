package sizeof_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tradecache/tradecache/internal/sizeof"
)

type quote struct {
	Symbol   string
	Bid, Ask decimal.Decimal
	At       time.Time
}

// The estimate is within a small factor of what the value really holds,
// measured by allocating many of them.
func TestEstimateIsCloseToTheHeap(t *testing.T) {
	mk := map[string]func() any{
		"quote": func() any {
			return quote{Symbol: "AAPL", Bid: decimal.RequireFromString("150.00"), Ask: decimal.RequireFromString("150.02"), At: time.Now()}
		},
		"map of slices": func() any {
			m := map[string][]int{}
			for i := range 100 {
				m[strings.Repeat("k", i%10+1)+string(rune('a'+i%26))] = make([]int, 50)
			}
			return m
		},
		"[]any of maps": func() any {
			out := make([]any, 1000)
			for i := range out {
				out[i] = map[string]any{}
			}
			return out
		},
		"long string": func() any { return strings.Repeat("x", 1<<20) },
	}
	for name, f := range mk {
		const n = 200
		keep := make([]any, n)
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		for i := range keep {
			keep[i] = f()
		}
		runtime.ReadMemStats(&ms)
		real := float64(ms.TotalAlloc-before) / n
		est := float64(sizeof.Of(keep[0]))
		t.Logf("%s: estimate %.0f bytes, allocated %.0f", name, est, real)
		if est < real/3 || est > real*3 {
			t.Errorf("%s: estimate %.0f bytes, allocated %.0f: off by more than 3x", name, est, real)
		}
		runtime.KeepAlive(keep)
	}
}
