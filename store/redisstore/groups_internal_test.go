package redisstore

import (
	"testing"

	"github.com/tradecache/tradecache/internal/keyslot"
)

// Groups never hold slots of two owners and never more than groupSlots.
func TestCutGroups(t *testing.T) {
	if n := len(fixedGroups.names); n != 128 || fixedGroups.names[1] != "redis slots 128-255" {
		t.Fatalf("fixed groups: %d, second %q", n, fixedGroups.names[1])
	}
	// Three masters as redis-cli lays them out, and one slot unassigned.
	owners := make([]int, keyslot.Slots)
	for sl := range owners {
		switch {
		case sl <= 5460:
			owners[sl] = 1
		case sl <= 10922:
			owners[sl] = 2
		default:
			owners[sl] = 3
		}
	}
	owners[7000] = 0
	g := cutGroups(owners)
	size := map[uint16]int{}
	owner := map[uint16]int{}
	for sl, o := range owners {
		grp := g.of[sl]
		size[grp]++
		if prev, ok := owner[grp]; ok && prev != o {
			t.Fatalf("group %s holds slots of owners %d and %d", g.names[grp], prev, o)
		}
		owner[grp] = o
		if sl > 0 && g.of[sl] != g.of[sl-1] && g.of[sl] != g.of[sl-1]+1 {
			t.Fatalf("groups are not contiguous at slot %d", sl)
		}
	}
	for grp, n := range size {
		if n > groupSlots {
			t.Fatalf("group %s holds %d slots", g.names[grp], n)
		}
	}
	// 43 groups per master, plus the single unassigned slot splitting one.
	if len(g.names) != 131 || g.names[g.of[7000]] != "redis slots 7000-7000" || g.names[g.of[5461]] != "redis slots 5461-5588" {
		t.Fatalf("%d groups; slot 7000 in %q, 5461 in %q", len(g.names), g.names[g.of[7000]], g.names[g.of[5461]])
	}
}
