package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// FetchState returns a folder's state; a folder never fetched has a zero state.
func (s *Store) FetchState(ctx context.Context, mailboxID int64, folder string) (helpdesk.FetchState, error) {
	st := helpdesk.FetchState{MailboxID: mailboxID, Folder: folder}
	err := s.fetchQ.FetchState.GetContext(ctx, &st, mailboxID, folder)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read fetch state of mailbox %d folder %q: %w", mailboxID, folder, err)
	}
	return st, nil
}

// FetchStates returns the state of every fetched folder of a mailbox.
func (s *Store) FetchStates(ctx context.Context, mailboxID int64) ([]helpdesk.FetchState, error) {
	var sts []helpdesk.FetchState
	err := s.fetchQ.FetchStates.SelectContext(ctx, &sts, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("read fetch states of mailbox %d: %w", mailboxID, err)
	}
	return sts, nil
}

// SaveFetchProgress records that every UID up to lastUID under uidvalidity
// has been dealt with (stored, found duplicate or quarantined).
func (s *Store) SaveFetchProgress(ctx context.Context, fence, mailboxID int64, folder string, uidvalidity, lastUID uint32) error {
	return s.inFetchTx(ctx, mailboxID, fence, func(t *tx) error {
		_, err := t.exec(ctx, t.q().SaveFetchProgress, mailboxID, folder, uidvalidity, lastUID, fence)
		if err != nil {
			return fmt.Errorf("save fetch progress: %w", err)
		}
		return nil
	})
}

// RecordFetchResult notes the end of a run over a folder: success resets
// the failure count, an error increments it.
func (s *Store) RecordFetchResult(ctx context.Context, fence, mailboxID int64, folder string, runErr error) error {
	at := now()
	return s.inFetchTx(ctx, mailboxID, fence, func(t *tx) error {
		var err error
		if runErr == nil {
			_, err = t.exec(ctx, t.q().RecordFetchSuccess, mailboxID, folder, fence, at, at)
		} else {
			_, err = t.exec(ctx, t.q().RecordFetchFailure, mailboxID, folder, fence, at, helpdesk.Truncate(runErr.Error(), 2000))
		}
		if err != nil {
			return fmt.Errorf("record fetch result: %w", err)
		}
		return nil
	})
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

// StartRun records the start of a run (fenced) and forgets the mailbox's
// runs older than the newest KeptRuns.
func (s *Store) StartRun(ctx context.Context, fence, mailboxID int64, trigger, holder string) (int64, error) {
	var id int64
	err := s.inFetchTx(ctx, mailboxID, fence, func(t *tx) error {
		err := t.get(ctx, &id, t.q().StartRun, mailboxID, trigger, fence, holder, now())
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, t.q().PruneRuns, mailboxID, mailboxID, helpdesk.KeptRuns-1)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("start fetch run: %w", err)
	}
	return id, nil
}

// FinishRun records a run's counts and error (fenced: a holder that lost
// its lease leaves its run unfinished, which the status page shows).
func (s *Store) FinishRun(ctx context.Context, fence int64, run helpdesk.FetchRun) error {
	return s.inFetchTx(ctx, run.MailboxID, fence, func(t *tx) error {
		_, err := t.exec(ctx, t.q().FinishRun,
			now(), run.New, run.Duplicates, run.Quarantined, helpdesk.Truncate(run.Error, 2000), run.ID)
		if err != nil {
			return fmt.Errorf("finish fetch run %d: %w", run.ID, err)
		}
		return nil
	})
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

// RequestFetch records an admin's "fetch now"; the fetch service runs it.
// Asking again while a request is open adds nothing.
func (s *Store) RequestFetch(ctx context.Context, mailboxID int64, requestedBy string) error {
	if _, err := s.Mailbox(ctx, mailboxID); err != nil {
		return err
	}
	return s.inTx(ctx, func(t *tx) error {
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
	})
}

// RequestedMailboxes lists mailboxes with an open fetch request.
func (s *Store) RequestedMailboxes(ctx context.Context) ([]int64, error) {
	var ids []int64
	if err := s.fetchQ.RequestedMailboxes.SelectContext(ctx, &ids); err != nil {
		return nil, fmt.Errorf("list fetch requests: %w", err)
	}
	return ids, nil
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
