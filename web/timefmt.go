package web

import (
	"fmt"
	"time"
)

// Times on every page: a date in the signed-in user's time zone
// (pageData.Zone, set on /account; partials get it with "zoned" or their
// view) and how long ago, in whole units.

// whenLayout shows the zone's abbreviation, so a time is never ambiguous.
const whenLayout = "Mon 2 Jan 2006 15:04 MST"

// formatWhen prints t (a time.Time or *time.Time) in loc; "—" for none.
func formatWhen(t any, loc *time.Location) string {
	v, ok := timeValue(t)
	if !ok {
		return "—"
	}
	if loc == nil {
		loc = time.UTC
	}
	return v.In(loc).Format(whenLayout)
}

// timeValue unwraps a template's time argument; false for nil or zero.
func timeValue(t any) (time.Time, bool) {
	switch x := t.(type) {
	case time.Time:
		return x, !x.IsZero()
	case *time.Time:
		if x != nil {
			return *x, !x.IsZero()
		}
	}
	return time.Time{}, false
}

// relativeTime says how long ago (or, for a clock ahead of ours, in how
// long) something was, in whole units: "12s ago", "4 min ago", "3 h 5 min
// ago", "2 days ago".
func relativeTime(d time.Duration) string {
	if d < 0 {
		return "in " + wholeUnits(-d)
	}
	return wholeUnits(d) + " ago"
}

func wholeUnits(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		if m := int(d/time.Minute) % 60; m != 0 {
			return fmt.Sprintf("%d h %d min", int(d/time.Hour), m)
		}
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}
