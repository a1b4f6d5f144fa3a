//go:build !nofencing

package store

// fencingChecked: every fetch write checks its fence. Only the fault tests'
// control binary, built with -tags nofencing, turns this off, to show that
// the fault checker catches what fencing prevents. No setting of the
// production binary can.
const fencingChecked = true
