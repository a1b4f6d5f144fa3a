package store

import "github.com/jmoiron/sqlx"

// fetchQueries are the queries of queries/fetch.sql (queries.go). A tag
// with ",postgres" names a query only PostgreSQL has.
type fetchQueries struct {
	Fence       *sqlx.Stmt `query:"fence"`
	ClaimFence  *sqlx.Stmt `query:"claim-fence"`
	LockFence   *sqlx.Stmt `query:"lock-fence"`
	FetchState  *sqlx.Stmt `query:"fetch-state"`
	FetchStates *sqlx.Stmt `query:"fetch-states"`

	AllFetchStates     *sqlx.Stmt `query:"all-fetch-states"`
	SaveFetchProgress  *sqlx.Stmt `query:"save-fetch-progress"`
	StartFetchFolder   *sqlx.Stmt `query:"start-fetch-folder"`
	RecordFetchSuccess *sqlx.Stmt `query:"record-fetch-success"`
	RecordFetchFailure *sqlx.Stmt `query:"record-fetch-failure"`
	MailboxFailures    *sqlx.Stmt `query:"mailbox-failures"`
	LastFetchError     *sqlx.Stmt `query:"last-fetch-error"`
	StartRun           *sqlx.Stmt `query:"start-run"`
	PruneRuns          *sqlx.Stmt `query:"prune-runs"`
	FinishRun          *sqlx.Stmt `query:"finish-run"`
	RecentRuns         *sqlx.Stmt `query:"recent-runs"`
	AllRecentRuns      *sqlx.Stmt `query:"all-recent-runs"`
	SaveRunProgress    *sqlx.Stmt `query:"save-run-progress"`
	ClearRunProgress   *sqlx.Stmt `query:"clear-run-progress"`
	RunProgress        *sqlx.Stmt `query:"run-progress"`
	AllRunProgress     *sqlx.Stmt `query:"all-run-progress"`

	OpenFetchRequests     *sqlx.Stmt `query:"open-fetch-requests"`
	RequestFetch          *sqlx.Stmt `query:"request-fetch"`
	FetchChanges          *sqlx.Stmt `query:"fetch-changes"`
	CompleteFetchRequests *sqlx.Stmt `query:"complete-fetch-requests"`
	PruneFetchRequests    *sqlx.Stmt `query:"prune-fetch-requests"`

	SeenUIDs        *sqlx.Stmt `query:"seen-uids"`
	StoredDedupKeys *sqlx.Stmt `query:"stored-dedup-keys"`
	PriorLedger     *sqlx.Stmt `query:"prior-ledger"`
	LedgerCounts    *sqlx.Stmt `query:"ledger-counts"`

	UpsertCustomer             *sqlx.Stmt `query:"upsert-customer"`
	InsertConversation         *sqlx.Stmt `query:"insert-conversation"`
	TouchConversation          *sqlx.Stmt `query:"touch-conversation"`
	ConversationByReferences   *sqlx.Stmt `query:"conversation-by-references"`
	ConversationBySubjectToken *sqlx.Stmt `query:"conversation-by-subject-token"`
	FollowMerged               *sqlx.Stmt `query:"follow-merged"`
	RawMessage                 *sqlx.Stmt `query:"raw-message"`

	HoldQuarantine                *sqlx.Stmt `query:"hold-quarantine"`
	QuarantineThread              *sqlx.Stmt `query:"quarantine-thread"`
	ShowQuarantined               *sqlx.Stmt `query:"show-quarantined"`
	ReplaceUnreadable             *sqlx.Stmt `query:"replace-unreadable-thread"`
	ForgetSanitizedHTML           *sqlx.Stmt `query:"forget-sanitized-html"`
	ReplaceUnreadableConversation *sqlx.Stmt `query:"replace-unreadable-conversation"`
	ResolveQuarantine             *sqlx.Stmt `query:"resolve-quarantine"`
	Quarantined                   *sqlx.Stmt `query:"quarantined"`
	QuarantineCounts              *sqlx.Stmt `query:"quarantine-counts"`
	RetryQuarantined              *sqlx.Stmt `query:"retry-quarantined"`
	QuarantinedMailbox            *sqlx.Stmt `query:"quarantined-mailbox"`
	QuarantinedForRetry           *sqlx.Stmt `query:"quarantined-for-retry"`

	NotifiedUsers                 *sqlx.Stmt `query:"notified-users"`
	CountMailboxesByEmail         *sqlx.Stmt `query:"count-mailboxes-by-email"`
	CountNotificationsByMessageID *sqlx.Stmt `query:"count-notifications-by-message-id"`
	RecentAutoAcks                *sqlx.Stmt `query:"recent-auto-acks"`
	RecordAutoAck                 *sqlx.Stmt `query:"record-auto-ack"`
	AssignedConversation          *sqlx.Stmt `query:"assigned-conversation"`
	UserName                      *sqlx.Stmt `query:"user-name"`
	FlipFetchAlert                *sqlx.Stmt `query:"flip-fetch-alert"`
	MailboxInfo                   *sqlx.Stmt `query:"mailbox-info"`
	CountOutboxByKeyPattern       *sqlx.Stmt `query:"count-outbox-by-key-pattern"`
	AdminEmails                   *sqlx.Stmt `query:"admin-emails"`

	AuditThreads       *sqlx.Stmt `query:"audit-threads"`
	AuditConversations *sqlx.Stmt `query:"audit-conversations"`
	AuditQuarantine    *sqlx.Stmt `query:"audit-quarantine"`
	AuditFences        *sqlx.Stmt `query:"audit-fences"`

	InsertRawMessage   *sqlx.Stmt `query:"insert-raw-message"`
	InsertRawMessages  *sqlx.Stmt `query:"insert-raw-messages,postgres"`
	InsertThread       *sqlx.Stmt `query:"insert-thread"`
	InsertThreads      *sqlx.Stmt `query:"insert-threads,postgres"`
	InsertAttachment   *sqlx.Stmt `query:"insert-attachment"`
	InsertAttachments  *sqlx.Stmt `query:"insert-attachments,postgres"`
	InsertParticipant  *sqlx.Stmt `query:"insert-participant"`
	InsertParticipants *sqlx.Stmt `query:"insert-participants,postgres"`
	InsertQuarantine   *sqlx.Stmt `query:"insert-quarantine"`
	InsertQuarantines  *sqlx.Stmt `query:"insert-quarantines,postgres"`
	InsertLedger       *sqlx.Stmt `query:"insert-ledger"`
	InsertLedgers      *sqlx.Stmt `query:"insert-ledgers,postgres"`
	InsertOutbox       *sqlx.Stmt `query:"insert-outbox"`
	InsertOutboxes     *sqlx.Stmt `query:"insert-outboxes,postgres"`
	InsertSearch       *sqlx.Stmt `query:"insert-search"`
	InsertSearches     *sqlx.Stmt `query:"insert-searches,postgres"`
	InsertEvent        *sqlx.Stmt `query:"insert-event"`
	InsertEvents       *sqlx.Stmt `query:"insert-events,postgres"`

	TakeIDs         *sqlx.Stmt `query:"take-ids,postgres"`
	MaxThreadID     *sqlx.Stmt `query:"max-thread-id,sqlite"`
	MaxRawMessageID *sqlx.Stmt `query:"max-raw-message-id,sqlite"`
}
