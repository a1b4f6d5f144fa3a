package helpdesk

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Every change to a conversation gives it a new version. A change says
// which version its author saw (Seen, 0: not given, last write wins) and
// is refused with a *StaleError when the same thing changed since: a
// status or assignee change when that field changed, a tag change when
// the tags changed, a reply or note when a customer message or another
// agent's reply arrived, so the agent reads it first.

// ErrStale: the conversation changed since the version the change was made on.
var ErrStale = errors.New("the conversation changed since you saw it")

// Changed fields of a StaleError.
const (
	ChangedStatus   = "status"
	ChangedAssignee = "assignee"
	ChangedMessages = "messages" // a customer message or another agent's reply
	ChangedTags     = "tags"
)

// Change is one thing that changed since the version seen, and who changed it.
type Change struct {
	Field   string `json:"field"`
	Version int64  `json:"version"`
	By      string `json:"by"`         // the user's name; "" for the customer's mail
	ByID    *int64 `json:"by_user_id"` // nil for the customer's mail
}

// Who is who made the change, for people.
func (c Change) Who() string {
	switch {
	case c.ByID == nil:
		return "the customer"
	case c.By == "":
		return "a former user"
	}
	return c.By
}

// StaleError refuses a change made on an older version.
type StaleError struct {
	Seen    int64
	Current int64
	Changes []Change
}

func (e *StaleError) Error() string {
	fields := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		fields[i] = c.Field
	}
	return fmt.Sprintf("%s: version %d seen, now %d (%s changed)", ErrStale, e.Seen, e.Current, strings.Join(fields, ", "))
}

func (e *StaleError) Unwrap() error { return ErrStale }

// NewReply is an agent's answer to the customer.
type NewReply struct {
	Body string
	Seen int64 // the conversation version the agent saw; 0: not given
	// Status is the conversation's status after sending; "" means
	// pending (waiting for the customer).
	Status string
	// Cc and Bcc are copies (checked with ParseRecipients or
	// CheckRecipients); Attachments are checked with CheckAttachments.
	Cc, Bcc     []string
	Attachments []NewAttachment
}

// Forward sends a conversation to someone outside it.
type Forward struct {
	To   string // one plain address
	Note string // the agent's words above the forwarded messages; may be empty
	Seen int64  // the conversation version the agent saw; 0: not given
}

// Delivery states of a reply's mail (and of a forward's, on its note).
const (
	DeliveryQueued = "queued"
	DeliverySent   = "sent"
	DeliveryFailed = "failed"
)

// Delivery is where a reply's mail (or a forward's) is: queued in the outbox, sent (with
// when), or failed (with why; an agent of the mailbox can retry it).
type Delivery struct {
	Status string     `json:"status"`
	SentAt *time.Time `json:"sent_at,omitempty"`
	Error  string     `json:"error,omitempty"`
}
