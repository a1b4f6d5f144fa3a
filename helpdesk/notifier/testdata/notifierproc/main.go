// Command notifierproc runs one notifier service until SIGTERM, for the
// crash tests of package notifier (a SIGKILL needs a process of its own).
// Configuration: HELPDESK_DATABASE_URL, HELPDESK_SMTP_URL, HELPDESK_SECRET_KEY,
// NOTIFIER_INSTANCE, NOTIFIER_LEASE (a Go duration).
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/notifier"
	"github.com/helpdesk/helpdesk/helpdesk/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store, err := store.Open(ctx, os.Getenv("HELPDESK_DATABASE_URL"), store.Options{Signer: helpdesk.NewMailSigner(os.Getenv("HELPDESK_SECRET_KEY"))})
	if err != nil {
		logger.Error("open store", "err", err)
		os.Exit(1)
	}
	defer store.Close()
	// Prepares the queries, as every command does.
	if err := store.CheckSchema(ctx); err != nil {
		logger.Error("check schema", "err", err)
		os.Exit(1)
	}
	lease, _ := time.ParseDuration(os.Getenv("NOTIFIER_LEASE"))
	svc := notifier.New(store, notifier.Config{
		SMTPURL:   os.Getenv("HELPDESK_SMTP_URL"),
		Instance:  os.Getenv("NOTIFIER_INSTANCE"),
		Batch:     5,
		LeaseFor:  lease,
		Logger:    logger,
		Workers:   2,
		PollEvery: 50 * time.Millisecond,
		RetryBase: 50 * time.Millisecond,
		RetryMax:  500 * time.Millisecond,
	})
	if err := svc.Start(ctx); err != nil {
		logger.Error("start notifier", "err", err)
		os.Exit(1)
	}
	logger.Info("notifierproc ready")
	<-ctx.Done()
	svc.Stop()
}
