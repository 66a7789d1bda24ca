package tradecache

import "context"

// LoadsRunning counts the loads of c in progress (get-or-load's and early
// refreshes'), for tests that must wait until a background refresh has
// wholly finished, its flight included, before they move a clock.
func LoadsRunning(c *Cache) int { return c.flights.Running() }

// PublishStatsNow publishes c's snapshot at once, as its ticker would.
func PublishStatsNow(c *Cache, ctx context.Context) error { return c.pub.publish(ctx, false) }

// StatsKey is where instance's snapshot is published under prefix.
func StatsKey(prefix, instance string) string { return statsKey(prefix, instance) }

// StatsRoster is the roster of live instances under prefix.
func StatsRoster(prefix string) string { return statsRoster(prefix) }

// MemoKey is memoKey, for the tests of the key forms.
func MemoKey[K comparable](k K) (string, error) { return memoKey(k) }
