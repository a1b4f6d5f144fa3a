package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// A fence is a per-mailbox number kept in the database that only grows.
// A fetch reads Fence()+1, takes the lease with it, then ClaimFence; every
// write it makes afterwards passes the fence and is refused with ErrFenced
// once a newer holder has claimed a higher one. A holder paused past its
// lease therefore cannot write when it wakes up.

// Fence returns a mailbox's current fence.
func (s *Store) Fence(ctx context.Context, mailboxID int64) (int64, error) {
	var f int64
	err := s.fetchQ.Fence.GetContext(ctx, &f, mailboxID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("mailbox %d: %w", mailboxID, helpdesk.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("read fence of mailbox %d: %w", mailboxID, err)
	}
	return f, nil
}

// ClaimFence makes fence the mailbox's current one. It fails with ErrFenced
// when the current fence is already as high: someone else claimed it first.
func (s *Store) ClaimFence(ctx context.Context, mailboxID, fence int64) error {
	res, err := s.fetchQ.ClaimFence.ExecContext(ctx, fence, now(), mailboxID, fence)
	if err != nil {
		return fmt.Errorf("claim fence %d of mailbox %d: %w", fence, mailboxID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("claim fence %d of mailbox %d: %w", fence, mailboxID, helpdesk.ErrFenced)
	}
	return nil
}
