package redisstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache/internal/keyslot"
)

// groupSlots is the most slots one circuit-breaker partition of a cluster
// holds. Partitions are groups of slots rather than shards because the
// slot-to-shard map changes under failover and resharding, and groups
// fixed when the store connects need no live map: a shard of a
// three-master cluster spans about 43 of them. The groups are cut at the
// shards' slot ranges as the cluster had them then, so that none holds
// slots of two shards and a dead shard's failures trip only its own
// groups; after a reshard moves a boundary, the group it falls in trips
// when its failing part does, until the store reconnects.
const groupSlots = 128

// slotGroups maps each slot to its partition.
type slotGroups struct {
	of    [keyslot.Slots]uint16
	names []string
}

// fixedGroups are 128 groups of 128 slots, for a store that could not
// read the slot map.
var fixedGroups = func() *slotGroups {
	owners := make([]int, keyslot.Slots)
	return cutGroups(owners)
}()

// readSlotGroups cuts the slots into groups along the shards' ranges from
// CLUSTER SLOTS, or returns the fixed groups when the map cannot be read.
func readSlotGroups(ctx context.Context, c rueidis.Client) *slotGroups {
	ranges, err := c.Do(ctx, c.B().ClusterSlots().Build()).ToArray()
	if err != nil {
		return fixedGroups
	}
	owners := make([]int, keyslot.Slots) // 0: no owner
	var addrs []string
	for _, r := range ranges {
		f, err := r.ToArray()
		if err != nil || len(f) < 3 {
			return fixedGroups
		}
		lo, err1 := f[0].AsInt64()
		hi, err2 := f[1].AsInt64()
		master, err3 := f[2].ToArray()
		if err1 != nil || err2 != nil || err3 != nil || len(master) < 2 || lo < 0 || hi >= keyslot.Slots || lo > hi {
			return fixedGroups
		}
		host, _ := master[0].ToString()
		port, _ := master[1].AsInt64()
		addr := fmt.Sprintf("%s:%d", host, port)
		i := slices.Index(addrs, addr)
		if i < 0 {
			addrs = append(addrs, addr)
			i = len(addrs) - 1
		}
		for sl := lo; sl <= hi; sl++ {
			owners[sl] = i + 1
		}
	}
	return cutGroups(owners)
}

// cutGroups starts a new group at every change of owner and every
// groupSlots slots.
func cutGroups(owners []int) *slotGroups {
	g := &slotGroups{}
	start := 0
	for sl := range keyslot.Slots {
		if sl > start && (owners[sl] != owners[sl-1] || sl-start == groupSlots) {
			g.names = append(g.names, fmt.Sprintf("redis slots %d-%d", start, sl-1))
			start = sl
		}
		g.of[sl] = uint16(len(g.names))
	}
	g.names = append(g.names, fmt.Sprintf("redis slots %d-%d", start, keyslot.Slots-1))
	return g
}

// Partitions implements store.Partitioner: on a cluster, one partition per
// group of slots (see groupSlots); none otherwise.
func (s *Store) Partitions() (int, func(int) string, func(string) int) {
	if !s.cluster {
		return 1, nil, nil
	}
	g := s.groups
	if g == nil {
		g = fixedGroups
	}
	return len(g.names),
		func(i int) string { return g.names[i] },
		func(key string) int { return int(g.of[keyslot.Of(key)]) }
}
