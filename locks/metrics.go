package locks

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts lease events. The caller registers Collectors() on its own
// registry; nothing here touches the global one.
type Metrics struct {
	Acquired       prometheus.Counter
	NotObtained    prometheus.Counter   // another process held the mailbox
	Lost           prometheus.Counter   // renewal said "not held" or the local deadline passed
	RefreshSeconds prometheus.Histogram // one observation per renewal round trip, for all leases
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		Acquired: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "helpdesk", Subsystem: "locks", Name: "acquired_total",
			Help: "Mailbox leases obtained.",
		}),
		NotObtained: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "helpdesk", Subsystem: "locks", Name: "not_obtained_total",
			Help: "Obtain attempts refused because another process held the mailbox.",
		}),
		Lost: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "helpdesk", Subsystem: "locks", Name: "lost_total",
			Help: "Mailbox leases lost before release.",
		}),
		RefreshSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "helpdesk", Subsystem: "locks", Name: "refresh_seconds",
			Help:    "Duration of lease renewal round trips (one per tick renews all of an instance's leases), failed ones included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
}

// Collectors lists the metrics for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Acquired, m.NotObtained, m.Lost, m.RefreshSeconds}
}

// The helpers accept a nil *Metrics so the lease code needs no checks.

func (m *Metrics) acquired() {
	if m != nil {
		m.Acquired.Inc()
	}
}

func (m *Metrics) notObtained() {
	if m != nil {
		m.NotObtained.Inc()
	}
}

func (m *Metrics) lost() {
	if m != nil {
		m.Lost.Inc()
	}
}

func (m *Metrics) refreshed(d time.Duration) {
	if m != nil {
		m.RefreshSeconds.Observe(d.Seconds())
	}
}
