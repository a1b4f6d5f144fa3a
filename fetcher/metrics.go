package fetcher

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Metrics are the fetcher's Prometheus metrics; the caller registers
// Collectors(). A nil *Metrics records nothing.
type Metrics struct {
	Runs       *prometheus.CounterVec
	RunSeconds prometheus.Histogram
	Messages   *prometheus.CounterVec
}

// NewMetrics creates the fetcher's metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpdesk_fetch_runs_total", Help: "Fetch runs by trigger and result.",
		}, []string{"trigger", "result"}),
		RunSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "helpdesk_fetch_run_duration_seconds", Help: "Duration of fetch runs.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpdesk_fetch_messages_total", Help: "Fetched messages by outcome (new, duplicate, quarantined).",
		}, []string{"outcome"}),
	}
}

// Collectors lists the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Runs, m.RunSeconds, m.Messages}
}

func (m *Metrics) observeRun(trigger string, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.Runs.WithLabelValues(trigger, result).Inc()
	m.RunSeconds.Observe(d.Seconds())
}

func (m *Metrics) countMessages(o helpdesk.Outcome, n int) {
	if m == nil || n == 0 {
		return
	}
	m.Messages.WithLabelValues(string(o)).Add(float64(n))
}
