package store

import (
	"context"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Lookups for the fetcher's header-only phase, which decides which bodies
// are worth downloading. Their lists go as one parameter (dialect.listArg).

// SeenUIDs returns what became of those of these UIDs the ledger has.
func (s *Store) SeenUIDs(ctx context.Context, mailboxID int64, folder string, uidvalidity uint32, uids []uint32) (map[uint32]helpdesk.Outcome, error) {
	seen := map[uint32]helpdesk.Outcome{}
	if len(uids) == 0 {
		return seen, nil
	}
	list, err := s.dialect.listArg(uids)
	if err != nil {
		return nil, err
	}
	var found []struct {
		UID     uint32           `db:"uid"`
		Outcome helpdesk.Outcome `db:"outcome"`
	}
	if err := s.fetchQ.SeenUIDs.SelectContext(ctx, &found, mailboxID, folder, uidvalidity, list); err != nil {
		return nil, fmt.Errorf("look up seen UIDs: %w", err)
	}
	for _, f := range found {
		seen[f.UID] = f.Outcome
	}
	return seen, nil
}

// StoredDedupKeys returns which of these dedup keys already have a stored
// message in the mailbox.
func (s *Store) StoredDedupKeys(ctx context.Context, mailboxID int64, keys []string) (map[string]bool, error) {
	stored := map[string]bool{}
	if len(keys) == 0 {
		return stored, nil
	}
	list, err := s.dialect.listArg(keys)
	if err != nil {
		return nil, err
	}
	var found []string
	if err := s.fetchQ.StoredDedupKeys.SelectContext(ctx, &found, mailboxID, list); err != nil {
		return nil, fmt.Errorf("look up dedup keys: %w", err)
	}
	for _, k := range found {
		stored[k] = true
	}
	return stored, nil
}

// RecordDuplicates writes ledger rows for messages found to be copies of
// stored ones, in one transaction.
func (s *Store) RecordDuplicates(ctx context.Context, fence, mailboxID int64, folder string, uidvalidity uint32, dups []helpdesk.Duplicate) error {
	if len(dups) == 0 {
		return nil
	}
	return s.inFetchTx(ctx, mailboxID, fence, func(t *tx) error {
		for _, d := range dups {
			src := helpdesk.MessageSource{MailboxID: mailboxID, Folder: folder, UIDValidity: uidvalidity, UID: d.UID, Fence: fence}
			prior, err := priorLedger(ctx, t, src, d.DedupKey)
			if err != nil {
				return err
			}
			if prior.seen {
				continue
			}
			writeLedger(t, src, d.DedupKey, helpdesk.OutcomeDuplicate, prior.storedThread)
		}
		return nil
	})
}

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
