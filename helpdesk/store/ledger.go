package store

import (
	"context"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Lookups for the fetcher's header-only phase, which decides which bodies
// are worth downloading. Their lists go as one parameter (dialect.listArg).

// LedgerCounts tallies a mailbox's ledger by outcome (tests and status).
func (s *Store) LedgerCounts(ctx context.Context, mailboxID int64) (map[helpdesk.Outcome]int, error) {
	var rows []struct {
		Outcome helpdesk.Outcome `db:"outcome"`
		N       int              `db:"n"`
	}
	err := s.fetchQ.LedgerCounts.SelectContext(ctx, &rows, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("count ledger: %w", err)
	}
	counts := map[helpdesk.Outcome]int{}
	for _, r := range rows {
		counts[r.Outcome] = r.N
	}
	return counts, nil
}
