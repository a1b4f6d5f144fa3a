package locks

import (
	"context"
	"testing"

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
	stillHeld(t, lease.Context(), testTTL/2) // one renewal
	lease.Release()
	if counterValue(t, m.Acquired) != 1 || counterValue(t, m.NotObtained) != 1 || counterValue(t, m.Lost) != 0 {
		t.Fatalf("acquired %v not obtained %v lost %v", counterValue(t, m.Acquired), counterValue(t, m.NotObtained), counterValue(t, m.Lost))
	}
	var h dto.Metric
	if err := m.RefreshSeconds.Write(&h); err != nil {
		t.Fatal(err)
	}
	if h.GetHistogram().GetSampleCount() < 1 {
		t.Fatal("no refresh observed")
	}
	// A nil *Metrics is allowed.
	lease, err = NewLocal(Options{TTL: testTTL}).Obtain(context.Background(), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	lease.Release()
}
