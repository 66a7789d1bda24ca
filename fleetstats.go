package tradecache

import (
	"context"

	"github.com/tradecache/tradecache/fleet"
)

// FleetStats reads the figures every live instance published under this
// Cache's key prefix (Config.PublishStats), at most fleet.MaxInstances of
// them, and merges them (package fleet). An instance whose snapshot
// expired between the roster and the read is left out. It needs no
// metrics of its own: `tradecache stats` runs it in a process that
// publishes nothing.
func (c *Cache) FleetStats(ctx context.Context) (fleet.Fleet, error) {
	if c.closed.Load() {
		return fleet.Fleet{}, &OpError{Op: "fleet_stats", Err: errClosed}
	}
	prefix := c.cfg.KeyPrefix
	members, vals, err := c.readStats(ctx, statsRoster(prefix), fleet.MaxInstances, statsKeyFunc(prefix))
	if err != nil {
		return fleet.Fleet{}, &OpError{Op: "fleet_stats", Err: err}
	}
	var (
		instances []fleet.InstanceStats
		refused   []fleet.Refused
	)
	for i, m := range members {
		if vals[i] == nil {
			continue // gone since the roster was read
		}
		st, err := fleet.Parse(m.Name, vals[i], opNames[:])
		if err != nil {
			refused = append(refused, fleet.Refused{Instance: m.Name, Reason: err.Error()})
			continue
		}
		// It announced itself for three intervals (statsPublisher.publish);
		// what it has left says, on the store's clock, how long ago.
		st.Seen = max(fleet.AnnouncedFor(st.Interval)-m.TTL, 0)
		instances = append(instances, st)
	}
	return fleet.Merge(instances, refused), nil
}
