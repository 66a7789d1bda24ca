package main

import "time"

// round gives a duration three significant digits, the one rounding every
// command prints durations with: 83ns, 123µs, 1.23ms, 12.3ms, 2.5s.
func round(d time.Duration) time.Duration {
	unit := time.Duration(1)
	for a := max(d, -d); a >= 1000*unit && unit < time.Second; unit *= 10 {
	}
	return d.Round(unit)
}
