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
		"}",
		"trading:ns:{x}{open",
	} {
		c, ok := Companion(key, " ver")
		if !ok {
			t.Errorf("Companion(%q) refused", key)
			continue
		}
		if !strings.HasPrefix(c, key+" ver") {
			t.Errorf("Companion(%q) = %q: it must begin with the key and the suffix", key, c)
		}
		if Of(c) != Of(key) {
			t.Errorf("Companion(%q) = %q in slot %d, want slot %d", key, c, Of(c), Of(key))
		}
	}
	// Braces that form no tag make the key hash whole: no companion can
	// share its slot while beginning with it.
	for _, key := range []string{"trading:ns:{open", "trading:ns:{}x}", "trading:ns:}{"} {
		if c, ok := Companion(key, " ver"); ok {
			t.Errorf("Companion(%q) = %q, want a refusal", key, c)
		}
	}
}

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
