package locks

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	reg := prometheus.NewRegistry()
	for _, c := range m.Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	l := NewLocal(Options{TTL: testTTL, Metrics: m})
	lease, err := l.Obtain(context.Background(), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Obtain(context.Background(), 1, 2); err == nil {
		t.Fatal("second Obtain succeeded")
	}
	waitRefreshes(t, m, 1, 3*testTTL)
	if err := lease.Err(); err != nil {
		t.Fatalf("lease lost: %v", err)
	}
	lease.Release()
	if counterValue(t, m.Acquired) != 1 || counterValue(t, m.NotObtained) != 1 || counterValue(t, m.Lost) != 0 {
		t.Fatalf("acquired %v not obtained %v lost %v", counterValue(t, m.Acquired), counterValue(t, m.NotObtained), counterValue(t, m.Lost))
	}
	// A nil *Metrics is allowed.
	lease, err = NewLocal(Options{TTL: testTTL}).Obtain(context.Background(), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	lease.Release()
}

// waitRefreshes waits until m has observed at least n renewal round trips.
func waitRefreshes(t *testing.T, m *Metrics, n uint64, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var h dto.Metric
		if err := m.RefreshSeconds.Write(&h); err != nil {
			t.Fatal(err)
		}
		if h.GetHistogram().GetSampleCount() >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d renewals observed after %s, want %d", h.GetHistogram().GetSampleCount(), limit, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
