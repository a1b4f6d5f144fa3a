package web

import (
	"context"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Store is what the web reads, and the writes an agent or admin may make.
// *store.Store satisfies it; the web never sees the store's fence claims,
// fetch handles or ingest, so no page or API call can write as a fetch.
// "Fetch now" is a row (RequestFetch) that the fetch service picks up.
type Store interface {
	Ping(ctx context.Context) error

	// Conversations, as the viewer may see them.
	Conversations(ctx context.Context, v helpdesk.Viewer, f helpdesk.ConversationFilter) (*helpdesk.ConversationList, error)
	Conversation(ctx context.Context, v helpdesk.Viewer, id int64) (*helpdesk.ConversationDetail, error)
	UpdateConversation(ctx context.Context, v helpdesk.Viewer, id int64, ch helpdesk.ConversationChange) error
	AddReply(ctx context.Context, v helpdesk.Viewer, convID int64, r helpdesk.NewReply) (*helpdesk.Written, error)
	ForwardConversation(ctx context.Context, v helpdesk.Viewer, convID int64, f helpdesk.Forward) (*helpdesk.Written, error)
	OwnAddresses(ctx context.Context) ([]string, error)
	AddNote(ctx context.Context, v helpdesk.Viewer, convID int64, body string, seen int64) (*helpdesk.Written, error)
	RetryReply(ctx context.Context, v helpdesk.Viewer, convID, threadID int64) error
	AddTag(ctx context.Context, v helpdesk.Viewer, convID int64, name string, seen int64) error
	RemoveTag(ctx context.Context, v helpdesk.Viewer, convID int64, name string, seen int64) error
	MergeConversation(ctx context.Context, v helpdesk.Viewer, fromID, intoID, seen int64) error
	Bulk(ctx context.Context, v helpdesk.Viewer, b helpdesk.BulkChange) ([]helpdesk.BulkResult, error)
	FolderCounts(ctx context.Context, v helpdesk.Viewer) ([]helpdesk.MailboxFolders, error)
	MarkRead(ctx context.Context, v helpdesk.Viewer, convID, version int64) error
	SetRead(ctx context.Context, v helpdesk.Viewer, convID int64, read bool) error
	Unread(ctx context.Context, v helpdesk.Viewer, convID int64) (bool, error)
	Customer(ctx context.Context, v helpdesk.Viewer, id int64) (*helpdesk.Customer, error)
	CustomerConversations(ctx context.Context, v helpdesk.Viewer, customerID int64) ([]helpdesk.ConversationSummary, error)
	Tags(ctx context.Context, v helpdesk.Viewer) ([]string, error)
	Assignees(ctx context.Context, mailboxID int64) ([]helpdesk.Assignee, error)
	VisibleMailboxes(ctx context.Context, v helpdesk.Viewer) ([]helpdesk.MailboxRef, error)
	Attachment(ctx context.Context, v helpdesk.Viewer, id int64) (*helpdesk.StoredAttachment, error)
	InlineAttachment(ctx context.Context, v helpdesk.Viewer, threadID int64, contentID string) (*helpdesk.StoredAttachment, error)
	ThreadHTML(ctx context.Context, v helpdesk.Viewer, threadID int64) (string, error)
	SanitizedHTML(ctx context.Context, v helpdesk.Viewer, threadIDs []int64, remoteImages bool, policy int) (map[int64]helpdesk.SanitizedHTML, error)
	SaveSanitizedHTML(ctx context.Context, h helpdesk.SanitizedHTML) error

	// Writing a reply: the signature, saved replies (admins change them),
	// the agent's draft.
	Signature(ctx context.Context, v helpdesk.Viewer, convID int64) (string, error)
	SavedReplies(ctx context.Context, v helpdesk.Viewer, mailboxID int64) ([]helpdesk.SavedReply, error)
	SavedReply(ctx context.Context, v helpdesk.Viewer, id int64) (*helpdesk.SavedReply, error)
	CreateSavedReply(ctx context.Context, in helpdesk.SavedReplyInput) (int64, error)
	UpdateSavedReply(ctx context.Context, id int64, in helpdesk.SavedReplyInput) error
	DeleteSavedReply(ctx context.Context, id int64) error
	Draft(ctx context.Context, v helpdesk.Viewer, convID int64) (string, error)
	SaveDraft(ctx context.Context, v helpdesk.Viewer, convID int64, body string, seen int64) error

	// Mailboxes, their fetch state and "fetch now".
	Mailbox(ctx context.Context, id int64) (*helpdesk.Mailbox, error)
	Mailboxes(ctx context.Context) ([]helpdesk.Mailbox, error)
	CreateMailbox(ctx context.Context, in helpdesk.MailboxInput) (int64, error)
	UpdateMailbox(ctx context.Context, id int64, in helpdesk.MailboxInput) error
	SetMailboxEnabled(ctx context.Context, id int64, enabled bool) error
	IMAPPassword(m *helpdesk.Mailbox) (string, error)
	OAuthCredentials(ctx context.Context, mailboxID int64) (*helpdesk.OAuthCredentials, error)
	ConnectMailboxOAuth(ctx context.Context, mailboxID int64, in helpdesk.OAuthInput) error
	Fence(ctx context.Context, mailboxID int64) (int64, error)
	FetchStates(ctx context.Context, mailboxID int64) ([]helpdesk.FetchState, error)
	AllFetchStates(ctx context.Context) ([]helpdesk.FetchState, error)
	RecentRuns(ctx context.Context, mailboxID int64, limit int) ([]helpdesk.FetchRun, error)
	AllRecentRuns(ctx context.Context, perMailbox int) ([]helpdesk.FetchRun, error)
	RunProgress(ctx context.Context, mailboxID int64) (*helpdesk.RunProgress, error)
	AllRunProgress(ctx context.Context) ([]helpdesk.RunProgress, error)
	RequestFetch(ctx context.Context, mailboxID int64, requestedBy string) error

	// Quarantine and outbox, for admins.
	Quarantined(ctx context.Context, mailboxID int64) ([]helpdesk.QuarantinedMessage, error)
	QuarantineCounts(ctx context.Context) (map[int64]int, error)
	RetryQuarantined(ctx context.Context, id int64) error
	OutboxStats(ctx context.Context) (helpdesk.OutboxStats, error)
	FailedOutbox(ctx context.Context) ([]helpdesk.OutboxMessage, error)
	RetryOutbox(ctx context.Context, id int64) error

	// Users and sign-in.
	User(ctx context.Context, id int64) (*helpdesk.User, error)
	Users(ctx context.Context) ([]helpdesk.User, error)
	UserByEmail(ctx context.Context, email string) (*helpdesk.User, error)
	CreateUser(ctx context.Context, in helpdesk.UserInput) (*helpdesk.User, error)
	UserMailboxIDs(ctx context.Context, userID int64) ([]int64, error)
	SetUserMailboxes(ctx context.Context, userID int64, mailboxIDs []int64) error
	SetUserRole(ctx context.Context, id int64, role string) error
	SetUserDisabled(ctx context.Context, id int64, disabled bool) error
	ResetPassword(ctx context.Context, id int64, password string) error
	ChangeOwnPassword(ctx context.Context, id int64, current, next, keepSession string) error
	SetTimeZone(ctx context.Context, id int64, zone string) error
	DeleteUser(ctx context.Context, id, reassignTo, byUserID int64) (helpdesk.Reassigned, error)
	Authenticate(ctx context.Context, email, password string) (*helpdesk.User, error)

	// API tokens.
	CreateAPIToken(ctx context.Context, userID int64, in helpdesk.APITokenInput) (string, *helpdesk.APIToken, error)
	APITokens(ctx context.Context, userID int64) ([]helpdesk.APIToken, error)
	RevokeAPIToken(ctx context.Context, tokenID, ownerID int64) error
	UserByAPIToken(ctx context.Context, token string) (*helpdesk.User, error)
	CreateSession(ctx context.Context, userID int64, ttl time.Duration) (token string, sess *helpdesk.Session, err error)
	SessionByToken(ctx context.Context, token string) (*helpdesk.Session, error)
	DeleteSession(ctx context.Context, token string) error
	DeleteExpiredSessions(ctx context.Context) (int64, error)

	// Live events (events.go) and the access check of presence.
	EventsAfter(ctx context.Context, after int64, limit int) ([]helpdesk.Event, error)
	LastEventID(ctx context.Context) (int64, error)
	DeleteEventsBefore(ctx context.Context, before time.Time) (int64, error)
	WatchEvents(ctx context.Context) <-chan struct{}
	ConversationMailbox(ctx context.Context, v helpdesk.Viewer, id int64) (int64, error)
}
