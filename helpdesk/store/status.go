package store

import (
	"context"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Reads for the admin status page: one query each for all mailboxes, so the
// page costs the same few queries however many mailboxes there are.

// AllFetchStates returns the fetch state of every folder of every mailbox,
// by mailbox and folder.
func (s *Store) AllFetchStates(ctx context.Context) ([]helpdesk.FetchState, error) {
	var sts []helpdesk.FetchState
	err := s.fetchQ.AllFetchStates.SelectContext(ctx, &sts)
	if err != nil {
		return nil, fmt.Errorf("read all fetch states: %w", err)
	}
	return sts, nil
}

// AllRecentRuns returns up to perMailbox latest runs of every mailbox, by
// mailbox, newest first.
func (s *Store) AllRecentRuns(ctx context.Context, perMailbox int) ([]helpdesk.FetchRun, error) {
	var runs []helpdesk.FetchRun
	err := s.fetchQ.AllRecentRuns.SelectContext(ctx, &runs, perMailbox)
	if err != nil {
		return nil, fmt.Errorf("list recent runs: %w", err)
	}
	return runs, nil
}

// AllRunProgress returns the progress of every running fetch that reports
// one (RunProgress), by mailbox.
func (s *Store) AllRunProgress(ctx context.Context) ([]helpdesk.RunProgress, error) {
	var ps []helpdesk.RunProgress
	if err := s.fetchQ.AllRunProgress.SelectContext(ctx, &ps); err != nil {
		return nil, fmt.Errorf("read run progress: %w", err)
	}
	return ps, nil
}

// QuarantineCounts returns the number of unresolved quarantined messages
// of each mailbox that has any.
func (s *Store) QuarantineCounts(ctx context.Context) (map[int64]int, error) {
	var rows []struct {
		MailboxID int64 `db:"mailbox_id"`
		N         int   `db:"n"`
	}
	if err := s.fetchQ.QuarantineCounts.SelectContext(ctx, &rows); err != nil {
		return nil, fmt.Errorf("count quarantined messages: %w", err)
	}
	counts := make(map[int64]int, len(rows))
	for _, r := range rows {
		counts[r.MailboxID] = r.N
	}
	return counts, nil
}
