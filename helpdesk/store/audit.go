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
	err := s.fetchQ.AuditThreads.SelectContext(ctx, &rows, mailboxID)
	if err != nil {
		return a, fmt.Errorf("audit threads: %w", err)
	}
	for _, r := range rows {
		a.StoredMessageIDs[r.MessageID] = r.N
	}
	if err := s.fetchQ.AuditConversations.GetContext(ctx, &a.Conversations, mailboxID); err != nil {
		return a, fmt.Errorf("audit conversations: %w", err)
	}
	if err := s.fetchQ.AuditQuarantine.GetContext(ctx, &a.Quarantined, mailboxID); err != nil {
		return a, fmt.Errorf("audit quarantine: %w", err)
	}
	err = s.fetchQ.AuditFences.GetContext(ctx, &a.FenceViolations, mailboxID)
	if err != nil {
		return a, fmt.Errorf("audit fences: %w", err)
	}
	return a, nil
}
