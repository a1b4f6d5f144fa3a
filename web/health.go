package web

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/labstack/echo/v4"
)

// healthz says the process serves HTTP.
func (s *Server) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// readyz checks that the database and the lock store (Redis, through the
// read-only inspector) answer, plus Config.ReadyChecks: 200 when all do,
// 503 naming the ones that do not. Anyone may ask, so the answer says only
// "error"; what went wrong (addresses, user names) goes to the log.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := map[string]func(context.Context) error{
		"database": s.cfg.Store.Ping,
		// Mailbox 0 does not exist: a GET and a PTTL of a key that is
		// never set. It proves Redis answers without writing anything.
		"locks": func(ctx context.Context) error { _, err := s.cfg.Inspector.Inspect(ctx, 0); return err },
	}
	for name, check := range s.cfg.ReadyChecks {
		checks[name] = check
	}
	names := make([]string, 0, len(checks))
	for n := range checks {
		names = append(names, n)
	}
	sort.Strings(names)
	result := map[string]string{}
	status := http.StatusOK
	for _, n := range names {
		if err := checks[n](ctx); err != nil {
			result[n] = "error"
			status = http.StatusServiceUnavailable
			s.log.Warn("web: not ready", "check", n, "err", err)
		} else {
			result[n] = "ok"
		}
	}
	return c.JSON(status, result)
}
