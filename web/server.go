// Package web is the HTTP side of the helpdesk, on echo: the agent UI, the
// admin pages, the JSON API under /api/v1, authentication and the
// operations endpoints (/healthz, /readyz, /metrics).
//
// Invariant 2: the server is given a leaseview.Inspector and imports
// locks/leaseview, never locks itself; it can show a lease but never take,
// renew or release one.
// "Fetch now" writes a request to the database that the fetch service runs.
package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/locks/leaseview"
	"github.com/helpdesk/helpdesk/presence"
)

// ConnectionTester runs the fetcher's own dial, login and select of each
// folder of a mailbox; its error carries the server's exact answer.
// cmd passes fetcher.TestConnection.
type ConnectionTester func(ctx context.Context, m *helpdesk.Mailbox, password string) error

// Config is everything the web server needs; nothing else is global.
type Config struct {
	Store     Store               // what the web reads and the writes agents and admins make (store.go)
	Inspector leaseview.Inspector // read-only view of the fetch leases
	// Registry receives the web's metrics and is served at /metrics. The
	// other services' collectors go into the same registry. A new one is
	// made when nil.
	Registry       *prometheus.Registry
	Listen         string // host:port for Start; default 127.0.0.1:8080
	Logger         *slog.Logger
	TestConnection ConnectionTester // nil: "Test connection" answers 503
	// SecureCookies marks cookies Secure (set it behind TLS); cookies of
	// requests that arrive over TLS are Secure regardless.
	SecureCookies bool
	// TrustProxy takes the client address from X-Forwarded-For (only
	// behind a reverse proxy that sets it); otherwise the peer address is
	// used, for login rate limiting and logs.
	TrustProxy bool
	SessionTTL time.Duration // default 12h
	// ReadyChecks are extra checks for /readyz besides the database and
	// the lock inspector (which reaches Redis when locks are on Redis).
	ReadyChecks map[string]func(context.Context) error
	// LoginLimit is the number of failed logins allowed per client address
	// and per e-mail address within LoginWindow; default 10 per 15 minutes.
	LoginLimit  int
	LoginWindow time.Duration
	// StatusCacheTTL is how long one reading of the status page serves
	// all admins (default 1s; the page says when it was read). Negative:
	// every request reads.
	StatusCacheTTL time.Duration
	// Presence is where the conversation page's heartbeats go: Redis when
	// several web instances run, in-process (the default) otherwise.
	Presence presence.Board
	// EventStreamLifetime is how long one event stream stays open; the
	// client then reconnects with Last-Event-ID and its access is read
	// again. Default 5 minutes.
	EventStreamLifetime time.Duration
}

// Server is the web server. Build it with New.
type Server struct {
	cfg     Config
	log     *slog.Logger
	echo    *echo.Echo
	pages   map[string]*template.Template
	metrics *metrics
	limiter *loginLimiter
	// routeTable is the table the handler was built from (see routes.go).
	routeTable []route
	status     statusCache
	events     *eventHub // live events (events.go)

	mu       sync.Mutex
	http     *http.Server
	addr     string
	served   chan struct{} // closed when Serve has returned
	quit     chan struct{} // closed by Stop
	stopOnce sync.Once
}

// New builds the server and its handler. It panics on a broken template,
// so a bad template stops the boot and not a request.
func New(cfg Config) *Server {
	if cfg.Store == nil || cfg.Inspector == nil {
		panic("web.New: Store and Inspector are required")
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.LoginLimit <= 0 {
		cfg.LoginLimit = 10
	}
	if cfg.StatusCacheTTL == 0 {
		cfg.StatusCacheTTL = time.Second
	}
	if cfg.LoginWindow <= 0 {
		cfg.LoginWindow = 15 * time.Minute
	}
	if cfg.Presence == nil {
		cfg.Presence = presence.NewLocal(0)
	}
	if cfg.EventStreamLifetime <= 0 {
		cfg.EventStreamLifetime = 5 * time.Minute
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "web"),
		pages:   mustParseTemplates(),
		metrics: newMetrics(cfg.Registry),
		limiter: newLoginLimiter(cfg.LoginLimit, cfg.LoginWindow),
	}
	s.events = newEventHub(cfg.Store, s.log)
	s.echo = s.buildEcho()
	return s
}

// Handler is the whole web application, for tests and custom servers.
func (s *Server) Handler() http.Handler { return s.echo }

// Start listens on Config.Listen and serves in the background. It returns
// once the listener is bound, or with the error that prevented it.
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln in the background (Start with a listener of your own).
// Cancelling ctx stops the server like Stop.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http != nil {
		ln.Close()
		return errors.New("web: already started")
	}
	s.http = &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.addr = ln.Addr().String()
	s.served = make(chan struct{})
	s.quit = make(chan struct{})
	s.log.Info("web: listening", "addr", s.addr)
	go func(srv *http.Server, served chan<- struct{}) {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("web: serve", "err", err)
		}
	}(s.http, s.served)
	go func(quit <-chan struct{}) {
		select {
		case <-ctx.Done():
			s.Stop()
		case <-quit:
		}
	}(s.quit)
	return nil
}

// Addr is the address the server listens on once started ("" before).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop stops accepting requests and waits up to 10 seconds for the ones in
// flight to finish. It is safe to call more than once and before Start.
func (s *Server) Stop() {
	s.events.stop() // ends the event streams, which would hold up the shutdown
	s.mu.Lock()
	srv, served, quit := s.http, s.served, s.quit
	s.mu.Unlock()
	if srv == nil {
		return
	}
	s.stopOnce.Do(func() {
		close(quit)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			s.log.Warn("web: shutdown", "err", err)
			srv.Close()
		}
	})
	<-served
}
