package redisstore

import "testing"

func TestSpanDigits(t *testing.T) {
	for _, c := range []struct {
		life int64
		want int
	}{{0, 0}, {1, 0}, {19, 0}, {20, 1}, {60_000, 4}, {3_600_000, 6}, {2_000_000, 6}, {1_999_999, 5}} {
		if got := spanDigits(c.life); got != c.want {
			t.Errorf("spanDigits(%d) = %d, want %d", c.life, got, c.want)
		}
	}
}
