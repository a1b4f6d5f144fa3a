//go:build nofencing

package helpdesk

// fenceChecked is false in a build with -tags nofencing: fetch writes skip
// the fence check. Only the fault tests' control run builds such a binary,
// to show that their checker catches the violations fencing prevents.
const fenceChecked = false
