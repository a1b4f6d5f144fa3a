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
	err := s.db.SelectContext(ctx, &sts, `SELECT `+fetchStateColumns+` FROM fetch_state ORDER BY mailbox_id, folder`)
	if err != nil {
		return nil, fmt.Errorf("read all fetch states: %w", err)
	}
	return sts, nil
}

// AllRecentRuns returns up to perMailbox latest runs of every mailbox, by
// mailbox, newest first.
func (s *Store) AllRecentRuns(ctx context.Context, perMailbox int) ([]helpdesk.FetchRun, error) {
	var runs []helpdesk.FetchRun
	err := s.db.SelectContext(ctx, &runs, s.db.Rebind(`SELECT id, mailbox_id, trigger, fence, holder, started_at,
		finished_at, new, duplicates, quarantined, error FROM (
			SELECT id, mailbox_id, trigger, fence, holder, started_at, finished_at, new, duplicates, quarantined, error,
				ROW_NUMBER() OVER (PARTITION BY mailbox_id ORDER BY id DESC) AS n
			FROM fetch_runs) r
		WHERE n <= ? ORDER BY mailbox_id, id DESC`), perMailbox)
	if err != nil {
		return nil, fmt.Errorf("list recent runs: %w", err)
	}
	return runs, nil
}
