package helpdesk

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxSavedReplyName bounds a saved reply's name (characters).
const MaxSavedReplyName = 200

// SavedReply is a canned answer that admins keep and agents insert into
// a reply: for every mailbox (MailboxID nil) or for one.
type SavedReply struct {
	ID          int64     `db:"id" json:"id"`
	MailboxID   *int64    `db:"mailbox_id" json:"mailbox_id"`
	MailboxName *string   `db:"mailbox_name" json:"mailbox_name"`
	Name        string    `db:"name" json:"name"`
	Body        string    `db:"body" json:"body"`
	CreatedAt   time.Time `db:"created_at" json:"created_at"`
	UpdatedAt   time.Time `db:"updated_at" json:"updated_at"`
}

// SavedReplyInput is what an admin sets on a saved reply.
type SavedReplyInput struct {
	Name      string `json:"name"`
	Body      string `json:"body"`
	MailboxID *int64 `json:"mailbox_id"` // nil: every mailbox
}

// Validate checks every field and reports all problems at once.
func (in *SavedReplyInput) Validate() error {
	in.Name = strings.TrimSpace(in.Name)
	bad := map[string]string{}
	if in.Name == "" || utf8.RuneCountInString(in.Name) > MaxSavedReplyName || strings.ContainsAny(in.Name, "\x00\r\n") {
		bad["name"] = fmt.Sprintf("required, one line of at most %d characters", MaxSavedReplyName)
	}
	body, err := ValidateBody(in.Body)
	if err != nil {
		bad["body"] = err.(*ValidationError).Fields["body"]
	}
	in.Body = body
	if in.MailboxID != nil && *in.MailboxID < 1 {
		bad["mailbox_id"] = "must be a mailbox id, or empty for every mailbox"
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

// ValidateDraft checks the text of a reply draft; an empty one means no
// draft.
func ValidateDraft(body string) error {
	if len(body) > MaxBodyLength || strings.ContainsRune(body, 0) {
		return &ValidationError{Fields: map[string]string{"body": fmt.Sprintf("at most %d characters of text", MaxBodyLength)}}
	}
	return nil
}
