package keyslot

import (
	"strings"
	"testing"
)

// The cluster specification's examples, and values from CLUSTER KEYSLOT
// on redis-server 7.0.15.
func TestOfMatchesRedis(t *testing.T) {
	for key, want := range map[string]uint16{
		"123456789":            0x31C3 & (Slots - 1), // the spec's CRC16 check value
		"foo":                  12182,
		"bar":                  5061,
		"{user1000}.following": 3443,
		"{user1000}.followers": 3443,
		"foo{}{bar}":           8363, // "{}" is no tag: the whole key
		"foo{{bar}}zap":        4015, // the tag is "{bar"
		"foo{bar}{zap}":        5061, // the first tag, "bar"
		"":                     0,
	} {
		if got := Of(key); got != want {
			t.Errorf("Of(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestCompanionSharesTheSlot(t *testing.T) {
	for _, key := range []string{
		"trading:market_data:AAPL",
		"trading:market_data:{AAPL}:quote",
		"trading:ns:a}b",
		"trading:ns:{}x}",
		"trading:ns:{open",
		"}",
		"trading:ns:}{",
	} {
		c := Companion(key, " ver")
		if !strings.HasSuffix(c, " ver") || c == key+" ver" && !hasTag(key) {
			t.Errorf("Companion(%q) = %q", key, c)
		}
		if Of(c) != Of(key) {
			t.Errorf("Companion(%q) = %q in slot %d, want slot %d", key, c, Of(c), Of(key))
		}
	}
}

func hasTag(k string) bool { _, ok := Tag(k); return ok }

func TestEverySlotHasATag(t *testing.T) {
	for s := 0; s < Slots; s++ {
		tag := tagFor(uint16(s))
		if tag == "" || Of(tag) != uint16(s) {
			t.Fatalf("tagFor(%d) = %q (slot %d)", s, tag, Of(tag))
		}
	}
}

func BenchmarkOf(b *testing.B) {
	for b.Loop() {
		Of("trading:market_data:AAPL")
	}
}
