package notifier

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the notifier does. The caller registers Collectors()
// on its own registry; nothing here touches the global one.
type Metrics struct {
	Sent        *prometheus.CounterVec // by kind
	Retried     prometheus.Counter     // 4xx, dropped connection, timeout: due again later
	Failed      prometheus.Counter     // 5xx or out of attempts: waits for an admin
	SendSeconds prometheus.Histogram
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		Sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "helpdesk", Subsystem: "outbox", Name: "sent_total",
			Help: "Outbound mails accepted by the SMTP server, by kind.",
		}, []string{"kind"}),
		Retried: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "helpdesk", Subsystem: "outbox", Name: "retried_total",
			Help: "Send attempts that failed temporarily and were rescheduled.",
		}),
		Failed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "helpdesk", Subsystem: "outbox", Name: "failed_total",
			Help: "Outbound mails marked failed (permanent error or too many attempts).",
		}),
		SendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "helpdesk", Subsystem: "outbox", Name: "send_seconds",
			Help:    "Duration of one SMTP send, failed ones included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
}

// Collectors lists the metrics for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Sent, m.Retried, m.Failed, m.SendSeconds}
}

// The helpers accept a nil *Metrics so the service needs no checks.

func (m *Metrics) sent(kind string) {
	if m != nil {
		m.Sent.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) retried() {
	if m != nil {
		m.Retried.Inc()
	}
}

func (m *Metrics) failed() {
	if m != nil {
		m.Failed.Inc()
	}
}

func (m *Metrics) observe(d time.Duration) {
	if m != nil {
		m.SendSeconds.Observe(d.Seconds())
	}
}
