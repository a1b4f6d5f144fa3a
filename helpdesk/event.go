package helpdesk

import "time"

// Live event names, as the web's event stream sends them.
const (
	EventConversationCreated = "conversation.created"
	EventConversationUpdated = "conversation.updated"
	EventThreadCreated       = "thread.created"
)

// Event is one change agents see live. It is stored in the transaction of
// the change; ID grows in commit order and is the stream's event id.
type Event struct {
	ID             int64     `db:"id" json:"-"`
	Name           string    `db:"name" json:"-"`
	MailboxID      int64     `db:"mailbox_id" json:"mailbox_id"`
	ConversationID int64     `db:"conversation_id" json:"conversation_id"`
	ThreadID       *int64    `db:"thread_id" json:"thread_id,omitempty"`
	At             time.Time `db:"created_at" json:"at"`
}
