//go:build nofencing

package store

// fencingChecked is off in the fault tests' control binary only (see
// fencing.go).
const fencingChecked = false
