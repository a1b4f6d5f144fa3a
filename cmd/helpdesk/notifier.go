package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/helpdesk/helpdesk/helpdesk/notifier"
	"github.com/helpdesk/helpdesk/helpdesk/oauth"
	"github.com/helpdesk/helpdesk/helpdesk/store"
)

// newNotifier is the outbox sender of the notifier role.
func newNotifier(store *store.Store, cfg config, logger *slog.Logger, registry *prometheus.Registry, tokens *oauth.Tokens) service {
	metrics := notifier.NewMetrics()
	registry.MustRegister(metrics.Collectors()...)
	return notifier.New(store, notifier.Config{SMTPURL: cfg.SMTPURL, Logger: logger, Metrics: metrics, Tokens: tokens})
}
