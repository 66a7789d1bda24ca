package tradecache

import (
	"testing"
	"time"

	"github.com/tradecache/tradecache/codec"
)

// The one freshness rule, at its edges: a value is fresh up to (not at)
// FreshUntil, a remembered miss is never a value, and a stale value is
// usable up to MaxStale past its freshness, never a stale miss.
func TestJudgeIsTheFreshnessRule(t *testing.T) {
	at := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	st := func(negative bool) stampInfo {
		return stampInfo{codec.Stamp{AsOf: at, FreshFor: time.Minute, Negative: negative}, true, nil}
	}
	until := at.Add(time.Minute)
	for _, c := range []struct {
		name  string
		found bool
		st    stampInfo
		now   time.Time
		want  verdict
	}{
		{"not found", false, st(false), at, absent},
		{"written by Set", true, stampInfo{}, at.Add(time.Hour), fresh},
		{"fresh", true, st(false), until.Add(-time.Nanosecond), fresh},
		{"at its freshness's end", true, st(false), until, staleUsable},
		{"stale within MaxStale", true, st(false), until.Add(29 * time.Second), staleUsable},
		{"past MaxStale", true, st(false), until.Add(30 * time.Second), absent},
		{"a fresh miss", true, st(true), at, freshMiss},
		{"a stale miss", true, st(true), until.Add(time.Second), absent},
	} {
		if got := judge(c.found, c.st, c.now, 30*time.Second); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
