package helpdesk

import (
	"fmt"
	"time"
)

// Customer is someone who writes to the mailboxes, with the conversations
// of theirs a viewer may see, newest message first.
type Customer struct {
	ID        int64     `db:"id" json:"id"`
	Email     string    `db:"email" json:"email"`
	Name      string    `db:"name" json:"name"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
	// Names are the names their mail was signed with, in those
	// conversations.
	Names         []string              `db:"-" json:"names"`
	Conversations []ConversationSummary `db:"-" json:"conversations"`
}

// Merged is the answer for a conversation merged into another: its
// threads, participants and tags are in conversation Into.
type Merged struct {
	ID   int64
	Into int64
}

func (m *Merged) Error() string {
	return fmt.Sprintf("conversation %d merged into %d", m.ID, m.Into)
}

// Unwrap makes a merged conversation not found for whoever does not
// follow it to Into.
func (m *Merged) Unwrap() error { return ErrNotFound }
