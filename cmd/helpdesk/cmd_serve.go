package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/helpdesk/oauth"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/web"
)

var allRoles = []string{"web", "fetcher", "notifier"}

func cmdServe(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := newFlagSet("serve")
	rolesFlag := fs.String("roles", strings.Join(allRoles, ","), "comma-separated roles: web, fetcher, notifier")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	roles, err := parseRoles(*rolesFlag)
	if err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, false)
	if err != nil {
		return stoppedWhileStarting(ctx, err, logger)
	}
	defer store.Close()
	return stoppedWhileStarting(ctx, serve(ctx, cfg, store, roles, logger, nil), logger)
}

// stoppedWhileStarting is err, or nil when the stop signal came first: a
// process told to stop (SIGTERM in a rolling restart) before it was up
// has stopped as asked, not failed, whatever the cancelled start-up
// returned (context canceled, a bad connection, an unread schema version).
func stoppedWhileStarting(ctx context.Context, err error, logger *slog.Logger) error {
	if err != nil && ctx.Err() != nil {
		logger.Info("stopped while starting", "err", err)
		return nil
	}
	return err
}

func parseRoles(s string) (map[string]bool, error) {
	roles := map[string]bool{}
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		switch r {
		case "web", "fetcher", "notifier":
			roles[r] = true
		case "":
		default:
			return nil, usageError{fmt.Sprintf("serve: unknown role %q (want web, fetcher, notifier)", r)}
		}
	}
	if len(roles) == 0 {
		return nil, usageError{"serve: --roles is empty"}
	}
	return roles, nil
}

// service is a long-running part of the process.
type service interface {
	Start(ctx context.Context) error
	Stop()
}

// serve starts the services of the given roles and stops them, in order,
// when ctx ends: HTTP first, then the fetchers (releasing their leases),
// then the notifier; the caller closes Redis and the database after.
// serve runs the roles until ctx ends. caught is the demo's SMTP catcher
// for the web's /admin/caught; nil outside the demo.
func serve(ctx context.Context, cfg config, store *store.Store, roles map[string]bool, logger *slog.Logger, caught web.CaughtMail) error {
	deps, err := newLockDeps(ctx, cfg, roles["fetcher"])
	if err != nil {
		return err
	}
	defer deps.Close()
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registry.MustRegister(deps.metrics.Collectors()...)
	// One token cache for the process: fetches, connection tests and
	// outbound mail of an OAuth2 mailbox share its access token.
	tokens := oauth.NewTokens(store, nil, logger)

	var started []service
	startService := func(name string, s service) error {
		if err := s.Start(ctx); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		started = append(started, s)
		logger.Info("started", "service", name)
		return nil
	}
	defer func() {
		for _, s := range started {
			s.Stop()
		}
	}()

	if roles["web"] {
		srv := web.New(web.Config{
			Store:            store,
			Inspector:        deps.inspector,
			Registry:         registry,
			Listen:           cfg.Listen,
			Logger:           logger,
			PublicURL:        cfg.PublicURL,
			TrustedProxies:   cfg.TrustedProxies,
			LoginAttempts:    loginAttempts(ctx, deps, logger),
			CaughtMail:       caught,
			MetricsToken:     cfg.MetricsToken,
			MailHTMLMaxBytes: cfg.MailHTMLMaxBytes,
			Attachments:      cfg.Attachments,
			OAuthClients:     cfg.OAuthClients, // for "Connect with Google / Microsoft"
			TestConnection:   fetcher.New(store, fetcher.Config{Logger: logger, Tokens: tokens}).TestConnection,
			Presence:         presenceBoard(ctx, deps, logger),
		})
		if err := startService("web on "+cfg.Listen, srv); err != nil {
			return err
		}
	}
	if roles["fetcher"] {
		metrics := fetcher.NewMetrics()
		registry.MustRegister(metrics.Collectors()...)
		f := fetcher.New(store, fetcher.Config{Holder: deps.holder, Logger: logger, Metrics: metrics, Tokens: tokens})
		svc := fetcher.NewService(f, deps.locker, deps.inspector, fetcher.ServiceConfig{
			Fleet:        deps.fleet,
			Concurrency:  cfg.Fetch.Concurrency,
			MaxBytes:     cfg.Fetch.MaxBytes,
			MaxMailboxes: cfg.Fetch.MaxMailboxes,
			LockTTL:      cfg.LockTTL,
			Logger:       logger,
			AfterRun:     fetchAlerts(store, logger),
		})
		if err := startService("fetcher", svc); err != nil {
			return err
		}
	}
	if roles["notifier"] {
		if err := startService("notifier", newNotifier(store, cfg, logger, registry, tokens)); err != nil {
			return err
		}
	}
	logger.Info("helpdesk is running", "pid", os.Getpid(), "database", store.Dialect(), "redis", cfg.RedisURL != "")
	<-ctx.Done()
	logger.Info("shutting down")
	shutdownStarted := time.Now()
	for _, s := range started {
		s.Stop()
	}
	started = nil
	logger.Info("stopped", "took", time.Since(shutdownStarted).Round(time.Millisecond))
	return nil
}

// fetchAlerts sends admins one "fetching is failing" mail after several
// failed runs in a row and one "recovered" mail after, through the outbox.
func fetchAlerts(store *store.Store, logger *slog.Logger) func(context.Context, int64, error) {
	return func(ctx context.Context, mailboxID int64, _ error) {
		failures, err := store.MailboxFailures(ctx, mailboxID)
		if err == nil {
			err = store.UpdateFetchAlert(ctx, mailboxID, failures)
		}
		if err != nil && ctx.Err() == nil {
			logger.Warn("fetch alert not updated", "mailbox", mailboxID, "err", err)
		}
	}
}
