package store

import (
	"context"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// NotifyAssignedForTest runs notifyAssignedTx in a transaction of its own,
// for the tests of package store_test.
func (s *Store) NotifyAssignedForTest(ctx context.Context, convID, assigneeID, byUserID int64) error {
	return s.inTx(ctx, func(t *tx) error { return notifyAssignedTx(ctx, t, convID, assigneeID, byUserID) })
}

// EnqueueForTest enqueues one mail in a transaction of its own.
func (s *Store) EnqueueForTest(ctx context.Context, m helpdesk.OutboundMail) (string, error) {
	var id string
	err := s.inTx(ctx, func(t *tx) error {
		var err error
		id, err = enqueueTx(ctx, t, m)
		return err
	})
	return id, err
}

// QueryTextForTest is the text of a named query of an area's file
// ("outbox.sql") as the dialect runs it.
func QueryTextForTest(file, dialect, name string) (string, error) {
	texts, err := readQueries(file, dialect)
	return texts[name], err
}
