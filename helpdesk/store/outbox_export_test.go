package store

import (
	"context"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/jmoiron/sqlx"
)

// NotifyAssignedForTest runs notifyAssignedTx in a transaction of its own,
// for the tests of package helpdesk_test.
func (s *Store) NotifyAssignedForTest(ctx context.Context, convID, assigneeID, byUserID int64) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error { return notifyAssignedTx(ctx, tx, convID, assigneeID, byUserID) })
}

// EnqueueForTest enqueues one mail in a transaction of its own.
func (s *Store) EnqueueForTest(ctx context.Context, m helpdesk.OutboundMail) (string, error) {
	var id string
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		id, err = enqueueTx(ctx, plainTx{tx}, m)
		return err
	})
	return id, err
}
