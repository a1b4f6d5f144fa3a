package web

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the web's own Prometheus metrics.
type metrics struct {
	requests *prometheus.CounterVec   // route, method, code
	duration *prometheus.HistogramVec // route, method
	logins   *prometheus.CounterVec   // result: ok, failed, limited, busy, unavailable, invalid
	inspect  *prometheus.CounterVec   // result: ok, error
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpdesk_web_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "helpdesk_web_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route", "method"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpdesk_web_logins_total",
			Help: "Sign-in attempts by result: ok, failed, limited (rate limit), busy (too many password checks at once), unavailable (attempts could not be counted), invalid (malformed form).",
		}, []string{"result"}),
		inspect: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpdesk_web_lock_inspections_total",
			Help: "Lock inspections made for the status page and API, by result.",
		}, []string{"result"}),
	}
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
	m.logins = register(reg, m.logins)
	m.inspect = register(reg, m.inspect)
	return m
}

// register adds c to reg, or returns the equal collector already there
// (two servers on one registry share their metrics).
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// metricsHandler serves the registry; with Config.MetricsToken set, only
// to "Authorization: Bearer <token>".
func (s *Server) metricsHandler(c echo.Context) error {
	if want := s.cfg.MetricsToken; want != "" {
		scheme, got, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(want)) != 1 {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "metrics need Authorization: Bearer HELPDESK_METRICS_TOKEN")
		}
	}
	promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{
		Registry: s.cfg.Registry,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError),
	}).ServeHTTP(c.Response(), c.Request())
	return nil
}

// observe counts, times and logs the requests of one route.
func (s *Server) observe(r route) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			d := time.Since(start)
			status := c.Response().Status
			s.metrics.requests.WithLabelValues(r.path, r.method, strconv.Itoa(status)).Inc()
			s.metrics.duration.WithLabelValues(r.path, r.method).Observe(d.Seconds())
			level := slog.LevelInfo
			if r.kind == kindOps {
				level = slog.LevelDebug
			}
			attrs := []slog.Attr{
				slog.String("method", c.Request().Method),
				slog.String("path", c.Request().URL.Path),
				slog.String("route", r.path),
				slog.Int("status", status),
				slog.Duration("duration", d),
				slog.String("ip", c.RealIP()),
			}
			if u := currentUser(c); u != nil {
				attrs = append(attrs, slog.Int64("user_id", u.ID))
			}
			s.log.LogAttrs(c.Request().Context(), level, "web: request", attrs...)
			return nil
		}
	}
}
