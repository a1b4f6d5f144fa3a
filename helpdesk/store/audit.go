package store

import (
	"context"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// AuditMailbox reads the audit of one mailbox.
func (s *Store) AuditMailbox(ctx context.Context, mailboxID int64) (helpdesk.Audit, error) {
	a := helpdesk.Audit{StoredMessageIDs: map[string]int{}}
	var rows []struct {
		MessageID string `db:"message_id"`
		N         int    `db:"n"`
	}
	err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT t.message_id, COUNT(*) AS n FROM threads t
		JOIN conversations c ON c.id = t.conversation_id
		WHERE c.mailbox_id = ? AND t.kind = 'customer' GROUP BY t.message_id`), mailboxID)
	if err != nil {
		return a, fmt.Errorf("audit threads: %w", err)
	}
	for _, r := range rows {
		a.StoredMessageIDs[r.MessageID] = r.N
	}
	if err := s.db.GetContext(ctx, &a.Conversations, s.db.Rebind(`SELECT COUNT(*) FROM conversations WHERE mailbox_id = ?`), mailboxID); err != nil {
		return a, fmt.Errorf("audit conversations: %w", err)
	}
	if err := s.db.GetContext(ctx, &a.Quarantined, s.db.Rebind(`SELECT COUNT(*) FROM quarantine WHERE mailbox_id = ?`), mailboxID); err != nil {
		return a, fmt.Errorf("audit quarantine: %w", err)
	}
	err = s.db.GetContext(ctx, &a.FenceViolations, s.db.Rebind(`SELECT COUNT(*) FROM (
		SELECT fence, MAX(fence) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
		FROM fetch_ledger l WHERE mailbox_id = ? AND NOT EXISTS (SELECT 1 FROM quarantine q
			WHERE q.mailbox_id = l.mailbox_id AND q.folder = l.folder AND q.uidvalidity = l.uidvalidity AND q.uid = l.uid)
		) w WHERE fence < before`), mailboxID)
	if err != nil {
		return a, fmt.Errorf("audit fences: %w", err)
	}
	return a, nil
}
