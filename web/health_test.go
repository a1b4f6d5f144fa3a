package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

func TestHealthReadyMetrics(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		rsrv := testserver.StartRedis(t)
		e := setup(t, dialect, func(c *Config) { c.Inspector = leaseview.NewRedisInspector(redisViewer(t, rsrv)) })
		c := e.anonymous(t)
		if resp, body := c.get("/healthz"); resp.StatusCode != http.StatusOK || body != "ok\n" {
			t.Fatalf("healthz: %d %q", resp.StatusCode, body)
		}
		if resp, body := c.get("/readyz"); resp.StatusCode != http.StatusOK || body != `{"database":"ok","locks":"ok"}`+"\n" {
			t.Fatalf("readyz: %d %q", resp.StatusCode, body)
		}
		// Some traffic, then the metrics show it by route pattern.
		e.mailbox(t, 1)
		e.mailbox(t, 2)
		e.session(t, e.admin).get("/admin/status")
		resp, body := c.get("/metrics")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("metrics: %d", resp.StatusCode)
		}
		for _, want := range []string{
			`helpdesk_web_requests_total{code="200",method="GET",route="/admin/status"} 1`,
			`helpdesk_web_request_duration_seconds_bucket{method="GET",route="/readyz",le="+Inf"} 1`,
			`helpdesk_web_lock_inspections_total{result="ok"}`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}

		// Redis gone: not ready, and the status page says the lock state
		// is unknown instead of calling it idle.
		rsrv.Kill()
		resp, body = c.get("/readyz")
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"locks":"error"`) || !strings.Contains(body, `"database":"ok"`) {
			t.Fatalf("readyz without Redis: %d %s", resp.StatusCode, body)
		}
		start := time.Now()
		_, page := e.session(t, e.admin).get("/admin/status")
		if n := strings.Count(page, `data-field="lock-state">unknown<`); n != 2 {
			t.Errorf("%d mailboxes with lock state unknown with Redis down, want 2:\n%s", n, page)
		}
		if d := time.Since(start); d > inspectTimeout+2*time.Second {
			t.Errorf("status page took %v with Redis down", d)
		}
	})
}

func TestReadyChecksAndDatabaseDown(t *testing.T) {
	t.Parallel()
	var log logBuffer
	e := setup(t, "sqlite", logTo(&log), func(c *Config) {
		c.ReadyChecks = map[string]func(context.Context) error{"smtp": func(context.Context) error { return errors.New("connection refused") }}
	})
	c := e.anonymous(t)
	resp, body := c.get("/readyz")
	// Anyone may ask: the answer names the check, the log says why.
	if resp.StatusCode != http.StatusServiceUnavailable || body != `{"database":"ok","locks":"ok","smtp":"error"}`+"\n" {
		t.Fatalf("readyz: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(log.String(), "connection refused") {
		t.Errorf("the log does not say why smtp is not ready:\n%s", log.String())
	}
	e.store.Close()
	resp, body = c.get("/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"database":"error"`) || strings.Contains(body, "closed") {
		t.Fatalf("readyz without database: %d %s", resp.StatusCode, body)
	}
	// Still alive.
	if resp, _ := c.get("/healthz"); resp.StatusCode != http.StatusOK {
		t.Fatal("healthz")
	}
}
