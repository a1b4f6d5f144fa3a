package notifier

import (
	"context"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Queue is what the notifier needs of the store: the outbox rows it claims
// renews and settles, and a mailbox's own SMTP server. *store.Store satisfies it.
type Queue interface {
	ClaimOutbox(ctx context.Context, owner string, limit int, leaseFor time.Duration) ([]helpdesk.OutboxMessage, error)
	RenewOutboxClaim(ctx context.Context, owner string, ids []int64, until time.Time) ([]int64, error)
	MarkOutboxSent(ctx context.Context, owner string, ids []int64) (int, error)
	RescheduleOutbox(ctx context.Context, m helpdesk.OutboxMessage, next time.Time, lastError string) error
	ReleaseOutbox(ctx context.Context, m helpdesk.OutboxMessage, next time.Time, reason string) error
	FailOutbox(ctx context.Context, m helpdesk.OutboxMessage, lastError string) error
	OutboxAttachments(ctx context.Context, outboxID int64) ([]helpdesk.MailAttachment, error)
	Mailbox(ctx context.Context, id int64) (*helpdesk.Mailbox, error)
	SMTPURL(m *helpdesk.Mailbox) (string, error)
}
