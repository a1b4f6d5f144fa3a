package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// A fetch transaction is a tx begun under a fence. Its first statement
// reads the mailbox and checks the fence; the fence row stays locked until
// commit (PostgreSQL: FOR UPDATE; SQLite: the write lock taken at BEGIN),
// so a newer holder's ClaimFence waits for it and every later fetch
// transaction of the old holder is refused with ErrFenced.

// fetchScope is what a fetch transaction knows beyond a plain one.
type fetchScope struct {
	mailbox mailboxInfo
	// Rows collected for flush by their insert (rowinsert.go), what
	// reads may find them by, and the ids taken for new rows.
	pending     map[*rowInsert][][]any
	pendingKeys map[string]bool
	ids         map[string]*idRange
	// notified caches notifiedUsers for the messages of one batch (a
	// group commit lasts milliseconds; one query per message was a tenth
	// of the ingest's round trips).
	notified map[notifiedKey][]recipient
	// customers are the ids of the customers upserted so far, by address.
	customers map[string]int64
}

type notifiedKey struct {
	pref     string
	onlyUser int64
}

type mailboxInfo struct {
	ID      int64  `db:"id"`
	Name    string `db:"name"`
	Email   string `db:"email"`
	AutoAck bool   `db:"auto_ack"`
}

// beginFetchTx begins a transaction under fence; ErrFenced when a newer
// fetch has claimed the mailbox.
func (s *Store) beginFetchTx(ctx context.Context, mailboxID, fence int64) (*tx, error) {
	t, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	t.fetch = &fetchScope{}
	if err := t.lockFence(ctx, mailboxID, fence); err != nil {
		t.rollback()
		return nil, err
	}
	return t, nil
}

func (t *tx) lockFence(ctx context.Context, mailboxID, fence int64) error {
	var row struct {
		mailboxInfo
		Fence int64 `db:"fence"`
	}
	err := t.get(ctx, &row, t.q().LockFence, mailboxID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("mailbox %d: %w", mailboxID, helpdesk.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("check fence: %w", err)
	}
	if row.Fence != fence && fencingChecked {
		return fmt.Errorf("write with fence %d to mailbox %d (current %d): %w", fence, mailboxID, row.Fence, helpdesk.ErrFenced)
	}
	t.fetch.mailbox = row.mailboxInfo
	return nil
}

// inFetchTx runs fn in one fetch transaction, committed when fn returns nil.
func (s *Store) inFetchTx(ctx context.Context, mailboxID, fence int64, fn func(t *tx) error) error {
	t, err := s.beginFetchTx(ctx, mailboxID, fence)
	if err != nil {
		return err
	}
	defer t.rollback()
	if err := fn(t); err != nil {
		return err
	}
	return t.commit(ctx)
}

// notifiedUsers is notifiedUsers of the fetch transaction's mailbox, read
// once per transaction.
func (t *tx) notifiedUsers(ctx context.Context, pref string, onlyUser int64) ([]recipient, error) {
	key := notifiedKey{pref, onlyUser}
	if users, ok := t.fetch.notified[key]; ok {
		return users, nil
	}
	users, err := notifiedUsers(ctx, t, t.fetch.mailbox.ID, pref, onlyUser)
	if err != nil {
		return nil, err
	}
	if t.fetch.notified == nil {
		t.fetch.notified = map[notifiedKey][]recipient{}
	}
	t.fetch.notified[key] = users
	return users, nil
}
