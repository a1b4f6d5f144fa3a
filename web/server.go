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
	"runtime"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/locks/leaseview"
	"github.com/helpdesk/helpdesk/web/presence"
)

// ConnectionTester runs the fetcher's own sign-in (an OAuth2 token
// refresh too), dial, login and select of each folder of a mailbox; its
// error says which step failed with the server's exact answer. cmd
// passes (*fetcher.Fetcher).TestConnection.
type ConnectionTester func(ctx context.Context, m *helpdesk.Mailbox) error

// Config is everything the web server needs; nothing else is global.
type Config struct {
	Store     Store               // what the web reads and the writes agents and admins make (store.go)
	Inspector leaseview.Inspector // read-only view of the fetch leases
	// Registry receives the web's metrics and is served at /metrics. The
	// other services' collectors go into the same registry. A new one is
	// made when nil.
	Registry *prometheus.Registry
	// MetricsToken, when set, is the bearer token /metrics requires
	// (HELPDESK_METRICS_TOKEN); empty serves /metrics to anyone.
	MetricsToken   string
	Listen         string // host:port for Start; default 127.0.0.1:8080
	Logger         *slog.Logger
	TestConnection ConnectionTester // nil: "Test connection" answers 503
	// CaughtMail is the demo's SMTP catcher, listed at /admin/caught; nil
	// outside the demo.
	CaughtMail CaughtMail
	// PublicURL is the URL users reach the helpdesk at
	// (HELPDESK_PUBLIC_URL); an https one marks cookies Secure. Cookies
	// of requests that arrive over TLS are Secure regardless.
	PublicURL string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed; the client address of other requests is the peer's. The
	// address is what login throttling counts per client, and what logs show.
	TrustedProxies []*net.IPNet
	SessionTTL     time.Duration // default 12h
	// ReadyChecks are extra checks for /readyz besides the database and
	// the lock inspector (which reaches Redis when locks are on Redis).
	ReadyChecks map[string]func(context.Context) error
	// LoginAttempts counts sign-in attempts; give web instances one on a
	// shared Redis (NewRedisLoginAttempts) to share the limits. Default:
	// counted in this process.
	LoginAttempts LoginAttempts
	// Sign-in attempts allowed per LoginWindow (default 15 minutes):
	// LoginLimit per account and client address (default 10),
	// LoginAddressLimit per client address (default 100). Past LoginLimit
	// attempts at one account from all addresses together, it takes one
	// attempt per LoginBackoff (default 1s), doubling with each attempt
	// up to 64 times that. Sign-ins that succeed are not counted.
	LoginLimit        int
	LoginAddressLimit int
	LoginWindow       time.Duration
	LoginBackoff      time.Duration
	// PasswordChecks is how many passwords are checked at once (default
	// 2×GOMAXPROCS; each check takes about 19 MiB). A sign-in that cannot
	// start its check within PasswordCheckWait (default 2s) gets 503.
	PasswordChecks    int
	PasswordCheckWait time.Duration
	// StatusCacheTTL is how long one reading of the status page serves
	// all admins (default 1s; the page says when it was read). Negative:
	// every request reads.
	StatusCacheTTL time.Duration
	// MailHTMLMaxBytes is the largest HTML body shown formatted (default
	// 2 MiB); a larger one shows its text part and a link to download
	// the HTML.
	MailHTMLMaxBytes int64
	// Attachments bound the files of one reply: each file (default
	// 20 MiB) and all of them together (default 25 MiB).
	Attachments helpdesk.AttachmentLimits
	// OAuthClients are the helpdesk's clients at the preset providers
	// ("google", "microsoft"), for "Connect with ..." on mailbox pages.
	OAuthClients map[string]OAuthClient
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
	cfg            Config
	log            *slog.Logger
	echo           *echo.Echo
	pages          map[string]*template.Template
	metrics        *metrics
	limiter        loginLimiter
	passwordChecks passwordChecks
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
	if cfg.StatusCacheTTL == 0 {
		cfg.StatusCacheTTL = time.Second
	}
	limiter, passwordChecks := loginDefenses(&cfg)
	if cfg.MailHTMLMaxBytes <= 0 {
		cfg.MailHTMLMaxBytes = 2 << 20
	}
	cfg.Attachments.PerFile = positiveOr(cfg.Attachments.PerFile, helpdesk.DefaultAttachmentMaxBytes)
	cfg.Attachments.PerReply = positiveOr(cfg.Attachments.PerReply, helpdesk.DefaultReplyAttachmentMaxBytes)
	if cfg.Presence == nil {
		cfg.Presence = presence.NewLocal(0)
	}
	if cfg.EventStreamLifetime <= 0 {
		cfg.EventStreamLifetime = 5 * time.Minute
	}
	s := &Server{
		cfg:            cfg,
		log:            cfg.Logger.With("component", "web"),
		pages:          mustParseTemplates(),
		metrics:        newMetrics(cfg.Registry),
		limiter:        limiter,
		passwordChecks: passwordChecks,
	}
	s.events = newEventHub(cfg.Store, s.log)
	s.echo = s.buildEcho()
	return s
}

// loginDefenses fills in the login defaults of cfg and builds the
// limiter and the bound on password checks from them.
func loginDefenses(cfg *Config) (loginLimiter, passwordChecks) {
	if cfg.LoginAttempts == nil {
		cfg.LoginAttempts = NewLocalLoginAttempts()
	}
	cfg.LoginLimit = positiveOr(cfg.LoginLimit, 10)
	cfg.LoginAddressLimit = positiveOr(cfg.LoginAddressLimit, 100)
	cfg.LoginWindow = positiveOr(cfg.LoginWindow, 15*time.Minute)
	cfg.LoginBackoff = positiveOr(cfg.LoginBackoff, time.Second)
	cfg.PasswordChecks = positiveOr(cfg.PasswordChecks, 2*runtime.GOMAXPROCS(0))
	cfg.PasswordCheckWait = positiveOr(cfg.PasswordCheckWait, 2*time.Second)
	limiter := loginLimiter{
		attempts:     cfg.LoginAttempts,
		window:       cfg.LoginWindow,
		addressLimit: int64(cfg.LoginAddressLimit),
		accountLimit: int64(cfg.LoginLimit),
		backoff:      cfg.LoginBackoff,
	}
	return limiter, newPasswordChecks(cfg.PasswordChecks, cfg.PasswordCheckWait)
}

// positiveOr is v, or def when v is not positive.
func positiveOr[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
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
