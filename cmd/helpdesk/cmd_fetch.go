package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/locks"
)

// cmdFetch runs one fetch of one mailbox through the same lease and code
// path as the fetch service.
func cmdFetch(ctx context.Context, args []string, stdout, stderr io.Writer, logger *slog.Logger) error {
	fs := newFlagSet("fetch")
	mailboxID := fs.Int64("mailbox", 0, "mailbox ID")
	asJSON := fs.Bool("json", false, "print a JSON summary")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *mailboxID <= 0 {
		return usageError{"fetch: --mailbox ID is required"}
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer store.Close()
	deps, err := newLockDeps(ctx, cfg, true)
	if err != nil {
		if errors.Is(err, locks.ErrHeld) {
			return busyError{err}
		}
		return err
	}
	defer deps.Close()
	f := fetcher.New(store, fetcher.Config{Holder: deps.holder, Logger: logger})
	job := fetcher.Job{MailboxID: *mailboxID, Trigger: "cli"}
	if !*asJSON {
		job.Progress = newFetchProgress(stderr, logger).report
	}
	sum, err := f.RunLeased(ctx, deps.locker, job)
	if errors.Is(err, locks.ErrHeld) {
		return busyError{fmt.Errorf("mailbox %d is being fetched by another process: %w", *mailboxID, err)}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(sum)
	}
	fmt.Fprintf(stdout, "mailbox %d: %d new, %d duplicates, %d quarantined\n", sum.MailboxID, sum.New, sum.Duplicates, sum.Quarantined)
	return nil
}
