package helpdesk

import (
	"testing"
	"time"
)

func TestRunProgressRateAndETA(t *testing.T) {
	start := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name        string
		done, total int
		elapsed     time.Duration
		left        int
		rate        float64
		eta         time.Duration
		etaKnown    bool
	}{
		{"just started", 0, 40000, 0, 40000, 0, 0, false},
		{"nothing done yet", 0, 40000, 5 * time.Second, 40000, 0, 0, false},
		{"a quarter in 25 s", 10000, 40000, 25 * time.Second, 30000, 400, 75 * time.Second, true},
		{"rounded to the second", 1000, 3000, 3 * time.Second, 2000, 1000.0 / 3, 6 * time.Second, true},
		{"more done than found", 3010, 3000, 2 * time.Second, 0, 1505, 0, true},
		{"clock stepped back", 500, 3000, -time.Second, 2500, 0, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := RunProgress{Done: c.done, Total: c.total, StartedAt: start, UpdatedAt: start.Add(c.elapsed)}
			if got := p.Left(); got != c.left {
				t.Errorf("Left = %d, want %d", got, c.left)
			}
			if got := p.Rate(); got < c.rate-1e-9 || got > c.rate+1e-9 {
				t.Errorf("Rate = %g, want %g", got, c.rate)
			}
			eta, ok := p.ETA()
			if eta != c.eta || ok != c.etaKnown {
				t.Errorf("ETA = %s, %v; want %s, %v", eta, ok, c.eta, c.etaKnown)
			}
		})
	}
}
