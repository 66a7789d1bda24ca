//go:build race

package main

// raceEnabled says that these tests run with the race detector.
const raceEnabled = true
