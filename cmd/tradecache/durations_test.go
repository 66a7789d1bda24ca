package main

import (
	"testing"
	"time"
)

func TestRoundKeepsThreeDigits(t *testing.T) {
	for in, want := range map[time.Duration]string{
		83 * time.Nanosecond:       "83ns",
		123456 * time.Nanosecond:   "123µs",
		1234567 * time.Nanosecond:  "1.23ms",
		12345678 * time.Nanosecond: "12.3ms",
		2512345678:                 "2.51s",
		-1234567:                   "-1.23ms",
	} {
		if got := round(in).String(); got != want {
			t.Errorf("round(%v) = %s, want %s", in, got, want)
		}
	}
}
