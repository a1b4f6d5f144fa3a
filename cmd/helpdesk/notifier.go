package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// newNotifier is wired to helpdesk/notifier once it lands; until then the
// notifier role only logs that outbound mail waits in the outbox.
func newNotifier(store *helpdesk.Store, cfg config, logger *slog.Logger, registry *prometheus.Registry) service {
	return waitingNotifier{logger: logger}
}

type waitingNotifier struct{ logger *slog.Logger }

func (n waitingNotifier) Start(context.Context) error {
	n.logger.Warn("notifier not available in this build: outbound mail waits in the outbox")
	return nil
}
func (waitingNotifier) Stop() {}
