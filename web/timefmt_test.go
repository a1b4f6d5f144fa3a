package web

import (
	"testing"
	"time"
)

func TestRelativeTimeHasNoDecimals(t *testing.T) {
	cases := map[time.Duration]string{
		0:                              "0s ago",
		50200 * time.Millisecond:       "50s ago",
		59999 * time.Millisecond:       "59s ago",
		time.Minute:                    "1 min ago",
		4*time.Minute + 59*time.Second: "4 min ago",
		time.Hour:                      "1 h ago",
		3*time.Hour + 5*time.Minute:    "3 h 5 min ago",
		47*time.Hour + 59*time.Minute:  "47 h 59 min ago",
		50 * time.Hour:                 "2 days ago",
		400 * 24 * time.Hour:           "400 days ago",
		-90 * time.Second:              "in 1 min",
	}
	for d, want := range cases {
		if got := relativeTime(d); got != want {
			t.Errorf("relativeTime(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFormatWhenInTheUsersZone(t *testing.T) {
	at := time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		t    any
		loc  *time.Location
		want string
	}{
		{at, time.UTC, "Mon 30 Nov 2026 23:30 UTC"},
		{at, berlin, "Tue 1 Dec 2026 00:30 CET"},
		{&at, kolkata, "Tue 1 Dec 2026 05:00 IST"},
		{at, nil, "Mon 30 Nov 2026 23:30 UTC"},
		{time.Time{}, berlin, "—"},
		{(*time.Time)(nil), berlin, "—"},
	}
	for _, c := range cases {
		if got := formatWhen(c.t, c.loc); got != c.want {
			t.Errorf("formatWhen(%v, %v) = %q, want %q", c.t, c.loc, got, c.want)
		}
	}
}
