package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// FetchStates returns the state of every fetched folder of a mailbox.
func (s *Store) FetchStates(ctx context.Context, mailboxID int64) ([]helpdesk.FetchState, error) {
	var sts []helpdesk.FetchState
	err := s.fetchQ.FetchStates.SelectContext(ctx, &sts, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("read fetch states of mailbox %d: %w", mailboxID, err)
	}
	return sts, nil
}

// MailboxFailures is the highest consecutive-failure count over the
// mailbox's folders (what backoff and alerts go by).
func (s *Store) MailboxFailures(ctx context.Context, mailboxID int64) (int, error) {
	var n int
	err := s.fetchQ.MailboxFailures.GetContext(ctx, &n, mailboxID)
	if err != nil {
		return 0, fmt.Errorf("read failures of mailbox %d: %w", mailboxID, err)
	}
	return n, nil
}

// RecentRuns lists a mailbox's latest runs, newest first.
func (s *Store) RecentRuns(ctx context.Context, mailboxID int64, limit int) ([]helpdesk.FetchRun, error) {
	var runs []helpdesk.FetchRun
	err := s.fetchQ.RecentRuns.SelectContext(ctx, &runs, mailboxID, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs of mailbox %d: %w", mailboxID, err)
	}
	return runs, nil
}

// RunProgress returns how far the mailbox's running fetch has got through
// a folder, or nil when no run under the current fence has reported any.
func (s *Store) RunProgress(ctx context.Context, mailboxID int64) (*helpdesk.RunProgress, error) {
	var p helpdesk.RunProgress
	err := s.fetchQ.RunProgress.GetContext(ctx, &p, mailboxID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read run progress of mailbox %d: %w", mailboxID, err)
	}
	return &p, nil
}

// RequestFetch records an admin's "fetch now"; the fetch service runs it.
// Asking again while a request is open adds nothing.
func (s *Store) RequestFetch(ctx context.Context, mailboxID int64, requestedBy string) error {
	if _, err := s.Mailbox(ctx, mailboxID); err != nil {
		return err
	}
	return s.inTx(ctx, func(t *tx) error { return t.requestFetch(ctx, mailboxID, requestedBy) })
}

// requestFetch opens a fetch request unless one is open already.
func (t *tx) requestFetch(ctx context.Context, mailboxID int64, requestedBy string) error {
	var open int
	if err := t.get(ctx, &open, t.q().OpenFetchRequests, mailboxID); err != nil {
		return fmt.Errorf("read fetch requests: %w", err)
	}
	if open > 0 {
		return nil
	}
	_, err := t.exec(ctx, t.q().RequestFetch,
		mailboxID, helpdesk.Truncate(requestedBy, 200), now())
	if err != nil {
		return fmt.Errorf("insert fetch request: %w", err)
	}
	return nil
}

// FetchChanges is what the fetch service reads every tick, in one query:
// the mailboxes' version (it changes with every write to a mailbox or its
// folders) and the mailboxes with an open fetch request.
func (s *Store) FetchChanges(ctx context.Context) (version int64, requested []int64, err error) {
	var rows []struct {
		Version   int64         `db:"version"`
		MailboxID sql.NullInt64 `db:"mailbox_id"`
	}
	if err := s.fetchQ.FetchChanges.SelectContext(ctx, &rows); err != nil {
		return 0, nil, fmt.Errorf("read fetch changes: %w", err)
	}
	for _, r := range rows {
		version = r.Version
		if r.MailboxID.Valid {
			requested = append(requested, r.MailboxID.Int64)
		}
	}
	return version, requested, nil
}

// CompleteFetchRequests closes the open requests of a mailbox made before a
// run started; that run served them. When it closes any, it also deletes
// the mailbox's requests done over KeepDoneFetchRequests ago, so the table
// holds about a day of requests. Every run ends here (each IDLE wake-up
// too), so the delete runs only when rows were closed, and only over this
// mailbox's rows, so fetchers of different mailboxes never contend.
func (s *Store) CompleteFetchRequests(ctx context.Context, mailboxID int64, runStarted time.Time) error {
	at := now()
	err := s.inTx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, t.q().CompleteFetchRequests, at, mailboxID, runStarted.UTC())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = t.exec(ctx, t.q().PruneFetchRequests, mailboxID, at.Add(-helpdesk.KeepDoneFetchRequests))
		return err
	})
	if err != nil {
		return fmt.Errorf("complete fetch requests of mailbox %d: %w", mailboxID, err)
	}
	return nil
}
