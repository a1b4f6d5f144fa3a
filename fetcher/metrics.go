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
	// The service's: leases held, mailboxes watched (session open and
	// first run done: in IDLE or waiting to poll), downloads in flight.
	Owned         prometheus.Gauge
	Watched       prometheus.Gauge
	Downloads     prometheus.Gauge
	DownloadBytes prometheus.Gauge
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
		Owned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "helpdesk_fetch_mailboxes_owned", Help: "Mailboxes whose lease this instance holds.",
		}),
		Watched: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "helpdesk_fetch_mailboxes_watched", Help: "Mailboxes this instance holds with an open session after a first run: in IDLE or waiting to poll.",
		}),
		Downloads: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "helpdesk_fetch_downloads_in_flight", Help: "Body downloads running now (limited by HELPDESK_FETCH_CONCURRENCY).",
		}),
		DownloadBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "helpdesk_fetch_download_bytes_in_flight", Help: "Body bytes of the downloads running now, as the server announced them (limited by HELPDESK_FETCH_MAX_BYTES).",
		}),
	}
}

// Collectors lists the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Runs, m.RunSeconds, m.Messages, m.Owned, m.Watched, m.Downloads, m.DownloadBytes}
}

func (m *Metrics) downloadStarted(bytes int64) {
	if m != nil {
		m.Downloads.Inc()
		m.DownloadBytes.Add(float64(bytes))
	}
}

func (m *Metrics) downloadEnded(bytes int64) {
	if m != nil {
		m.Downloads.Dec()
		m.DownloadBytes.Sub(float64(bytes))
	}
}

// addOwned and addWatched move the service's gauges by delta.
func (m *Metrics) addOwned(delta int) {
	if m != nil {
		m.Owned.Add(float64(delta))
	}
}

func (m *Metrics) addWatched(delta int) {
	if m != nil {
		m.Watched.Add(float64(delta))
	}
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
