package tradecache

// LoadsRunning counts the loads of c in progress (get-or-load's and early
// refreshes'), for tests that must wait until a background refresh has
// wholly finished, its flight included, before they move a clock.
func LoadsRunning(c *Cache) int { return c.flights.Running() }
