package codec

import (
	"fmt"
	"hash/maphash"
	"testing"
)

// A symbol read again costs nothing, and two symbols that hash to the
// same slot both stay: each takes one way of the slot's pair, where a
// direct-mapped table would have them evict each other on every read.
func TestInterningKeepsTwoSymbolsOfOneSlot(t *testing.T) {
	slot := func(s string) uint64 { return maphash.Bytes(internSeed, []byte(s)) & (internSlots - 1) }
	first := map[uint64]string{}
	var a, b string
	for i := 0; b == ""; i++ {
		s := fmt.Sprintf("SYM%d", i)
		if o, ok := first[slot(s)]; ok {
			a, b = o, s
		} else {
			first[slot(s)] = s
		}
	}
	i := slot(a)
	internTable[i].Store(nil)
	internTable[i^1].Store(nil)
	ab, bb := []byte(a), []byte(b)
	if intern(ab) != a || intern(bb) != b {
		t.Fatal("interning changed a string")
	}
	if n := testing.AllocsPerRun(100, func() { intern(ab); intern(bb) }); n != 0 {
		t.Fatalf("reading %q and %q, which share a slot, again made %.0f allocations; want 0", a, b, n)
	}
	long := make([]byte, maxInterned+1)
	if p := internTable[maphash.Bytes(internSeed, long)&(internSlots-1)].Load(); p != nil && len(*p) > maxInterned {
		t.Fatal("a long string sits in the table before it was read")
	}
	intern(long)
	if p := internTable[maphash.Bytes(internSeed, long)&(internSlots-1)].Load(); p != nil && len(*p) > maxInterned {
		t.Fatal("a string longer than maxInterned was interned")
	}
}
