package store

import (
	"context"
	"fmt"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// attachDeliveries sets the delivery of every reply of a conversation, and
// of every note that records a forward, from its mail's outbox row:
// queued, sent (with when) or failed (with why).
func (s *Store) attachDeliveries(ctx context.Context, convID int64, byThread map[int64]*helpdesk.Thread) error {
	var rows []struct {
		ThreadID  int64      `db:"thread_id"`
		Status    string     `db:"status"`
		SentAt    *time.Time `db:"sent_at"`
		LastError string     `db:"last_error"`
	}
	if err := s.convQ.ReplyDeliveries.SelectContext(ctx, &rows, convID); err != nil {
		return fmt.Errorf("get deliveries of conversation %d: %w", convID, err)
	}
	for _, r := range rows {
		t := byThread[r.ThreadID]
		if t == nil {
			continue
		}
		d := &helpdesk.Delivery{Status: helpdesk.DeliveryQueued}
		switch r.Status {
		case "sent":
			d.Status, d.SentAt = helpdesk.DeliverySent, r.SentAt
		case "failed":
			d.Status, d.Error = helpdesk.DeliveryFailed, r.LastError
		}
		t.Delivery = d
	}
	return nil
}

// RetryReply is an agent's retry of a reply (or a forward's note) whose
// mail failed: the same outbox row pending again, due now, as an admin's
// RetryOutbox. The agent must see the conversation; ErrNotFound when the
// thread is not a failed reply or forward of it.
func (s *Store) RetryReply(ctx context.Context, v helpdesk.Viewer, convID, threadID int64) error {
	return s.inTx(ctx, func(t *tx) error {
		if _, err := checkAccessTx(ctx, t, v, convID); err != nil {
			return err
		}
		res, err := t.exec(ctx, s.convQ.RetryReply, now(), threadID, convID)
		if err != nil {
			return fmt.Errorf("retry reply %d: %w", threadID, err)
		}
		if err := expectOneRow(res); err != nil {
			return fmt.Errorf("retry reply %d: no failed reply with this id: %w", threadID, err)
		}
		return nil
	})
}
