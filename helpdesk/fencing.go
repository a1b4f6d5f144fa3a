//go:build !nofencing

package helpdesk

// fenceChecked says every fetch write checks its fence (invariant 4). Only
// a binary built with -tags nofencing leaves the check out (fencing_off.go).
const fenceChecked = true
