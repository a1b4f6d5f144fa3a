package store

import "github.com/jmoiron/sqlx"

// outboxQueries are the queries of queries/outbox.sql (queries.go): the
// outbox queue and the admin's view of it.
type outboxQueries struct {
	ClaimOutbox      *sqlx.Stmt `query:"claim-outbox"`
	RenewOutboxClaim *sqlx.Stmt `query:"renew-outbox-claim"`
	MarkOutboxSent   *sqlx.Stmt `query:"mark-outbox-sent"`
	RescheduleOutbox *sqlx.Stmt `query:"reschedule-outbox"`
	ReleaseOutbox    *sqlx.Stmt `query:"release-outbox"`
	FailOutbox       *sqlx.Stmt `query:"fail-outbox"`
	RetryOutbox      *sqlx.Stmt `query:"retry-outbox"`

	FailedOutbox        *sqlx.Stmt `query:"failed-outbox"`
	OutboxMessage       *sqlx.Stmt `query:"outbox-message"`
	OutboxByKind        *sqlx.Stmt `query:"outbox-by-kind"`
	OutboxCounts        *sqlx.Stmt `query:"outbox-counts"`
	OldestPendingOutbox *sqlx.Stmt `query:"oldest-pending-outbox"`
	LastOutboxError     *sqlx.Stmt `query:"last-outbox-error"`
	SystemSender        *sqlx.Stmt `query:"system-sender"`

	ComposeOutbox           *sqlx.Stmt `query:"compose-outbox"`
	AttachThreadFiles       *sqlx.Stmt `query:"attach-thread-files"`
	AttachConversationFiles *sqlx.Stmt `query:"attach-conversation-files"`
	CountOutboxFiles        *sqlx.Stmt `query:"count-outbox-files"`
	OutboxAttachments       *sqlx.Stmt `query:"outbox-attachments"`
}
