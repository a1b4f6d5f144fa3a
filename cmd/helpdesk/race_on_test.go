//go:build race

package main

// raceEnabled says the tests run with the race detector; the helpdesk
// binaries they start are built the same way.
const raceEnabled = true
