package helpdesk

import (
	"fmt"
	"html/template"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Conversation statuses.
const (
	StatusActive  = "active"
	StatusPending = "pending"
	StatusClosed  = "closed"
	StatusSpam    = "spam"
)

// Statuses lists every conversation status, in the order the UI shows them.
var Statuses = []string{StatusActive, StatusPending, StatusClosed, StatusSpam}

func ValidStatus(s string) bool {
	for _, st := range Statuses {
		if s == st {
			return true
		}
	}
	return false
}

// Page sizes of the conversation list.
const (
	DefaultPerPage = 25
	MaxPerPage     = 100
	// maxPage bounds OFFSET so a crafted page number cannot make the
	// database walk millions of rows.
	maxPage = 10000
)

// Viewer is who is looking: admins see every mailbox, agents only the
// mailboxes they are given in user_mailboxes. Conversations outside a
// viewer's mailboxes behave as if they did not exist (ErrNotFound).
type Viewer struct {
	UserID int64
	Admin  bool
}

// ViewerOf is the viewer a signed-in user is; nil (nobody) sees nothing.
func ViewerOf(u *User) Viewer {
	if u == nil {
		return Viewer{UserID: -1}
	}
	return Viewer{UserID: u.ID, Admin: u.IsAdmin()}
}

// ConversationFilter selects conversations for the list. Zero values mean
// "any".
type ConversationFilter struct {
	MailboxID  int64
	Status     string // one of Statuses, or "" for all
	AssigneeID int64  // a user id; 0 for anyone
	Unassigned bool   // only conversations nobody is assigned to
	Tag        string
	Folder     string       // one of Folders, or "" for any
	Sort       string       // one of Sorts; "": newest message first, or best match in a search
	Query      string       // searched in subject, customer e-mail and name, and message bodies; may hold filters (ParseSearch)
	Search     *SearchQuery `json:"-"` // Query parsed by Validate; nil without a query
	Page       int          // from 1
	PerPage    int          // at most MaxPerPage
}

// Validate normalises the filter and reports every problem at once.
func (f *ConversationFilter) Validate() error {
	f.Status = strings.TrimSpace(f.Status)
	f.Tag = strings.ToLower(strings.TrimSpace(f.Tag))
	f.Query = strings.TrimSpace(f.Query)
	bad := map[string]string{}
	f.Search = nil
	if len(f.Query) > 200 {
		bad["q"] = "at most 200 characters"
	} else if f.Query != "" {
		sq, err := ParseSearch(f.Query)
		if err != nil {
			bad["q"] = err.Error()
		} else {
			f.applySearchFilters(sq)
		}
	}
	validateFolderSort(f, bad)
	if f.Status != "" && !ValidStatus(f.Status) {
		bad["status"] = "must be one of " + strings.Join(Statuses, ", ")
	}
	if f.MailboxID < 0 {
		bad["mailbox"] = "must be a mailbox id"
	}
	if f.AssigneeID < 0 {
		bad["assignee"] = "must be a user id"
	}
	if len(f.Tag) > MaxTagLength {
		bad["tag"] = fmt.Sprintf("at most %d characters", MaxTagLength)
	}
	if f.Page == 0 {
		f.Page = 1
	}
	if f.Page < 1 || f.Page > maxPage {
		bad["page"] = fmt.Sprintf("must be between 1 and %d", maxPage)
	}
	if f.PerPage == 0 {
		f.PerPage = DefaultPerPage
	}
	if f.PerPage < 1 || f.PerPage > MaxPerPage {
		bad["per_page"] = fmt.Sprintf("must be between 1 and %d", MaxPerPage)
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

// applySearchFilters keeps the parsed search; its status: and tag:
// replace the filter's own.
func (f *ConversationFilter) applySearchFilters(sq *SearchQuery) {
	f.Search = sq
	if sq.Status != "" {
		f.Status = sq.Status
	}
	if sq.Tag != "" {
		f.Tag = sq.Tag
	}
}

// ConversationSummary is one row of the conversation list.
type ConversationSummary struct {
	ID            int64     `db:"id" json:"id"`
	MailboxID     int64     `db:"mailbox_id" json:"mailbox_id"`
	MailboxName   string    `db:"mailbox_name" json:"mailbox_name"`
	CustomerID    int64     `db:"customer_id" json:"customer_id"`
	CustomerEmail string    `db:"customer_email" json:"customer_email"`
	CustomerName  string    `db:"customer_name" json:"customer_name"`
	Subject       string    `db:"subject" json:"subject"`
	Status        string    `db:"status" json:"status"`
	AssigneeID    *int64    `db:"assignee_id" json:"assignee_id"`
	AssigneeName  *string   `db:"assignee_name" json:"assignee_name"`
	Preview       string    `db:"preview" json:"preview"`
	CreatedAt     time.Time `db:"created_at" json:"created_at"`
	UpdatedAt     time.Time `db:"updated_at" json:"updated_at"`
	LastMessageAt time.Time `db:"last_message_at" json:"last_message_at"`
	Version       int64     `db:"version" json:"version"` // one more with every change
	// WaitingSince is when the oldest customer message after the last
	// reply arrived; nil when answered.
	WaitingSince *time.Time `db:"waiting_since" json:"waiting_since"`
	// CustomerV is the version of the newest customer message; the
	// viewer has not read it (Unread) while their read version is lower.
	CustomerV int64    `db:"customer_v" json:"-"`
	Unread    bool     `db:"-" json:"unread"`
	Tags      []string `db:"-" json:"tags"`
	// Highlight marks the searched words in subject and preview (HTML,
	// escaped); only in a search.
	Highlight *SearchHighlight `db:"-" json:"highlight,omitempty"`
}

// SearchHighlight is a search result's subject and preview as escaped
// HTML with the matched words in <mark>.
type SearchHighlight struct {
	Subject template.HTML `json:"subject"`
	Preview template.HTML `json:"preview"`
}

// ConversationList is one page of the list, with the number of matching
// conversations in each status (all filters applied except status).
type ConversationList struct {
	Conversations []ConversationSummary `json:"conversations"`
	Page          int                   `json:"page"`
	PerPage       int                   `json:"per_page"`
	Total         int                   `json:"total"`
	Counts        map[string]int        `json:"counts"`
}

// Pages is the number of pages of the list.
func (l *ConversationList) Pages() int {
	if l.PerPage == 0 {
		return 0
	}
	return (l.Total + l.PerPage - 1) / l.PerPage
}

// ConversationDetail is one conversation with its threads, oldest first.
type ConversationDetail struct {
	ConversationSummary
	MergedInto   *int64   `db:"merged_into" json:"-"` // set on a merged conversation (Store.Conversation answers *Merged)
	MailboxEmail string   `db:"-" json:"mailbox_email"`
	Threads      []Thread `json:"threads"`
}

// Thread is one message of a conversation: from the customer, an agent's
// reply, or an internal note.
type Thread struct {
	ID          int64            `db:"id" json:"id"`
	Kind        string           `db:"kind" json:"kind"`
	MessageID   string           `db:"message_id" json:"message_id"`
	InReplyTo   string           `db:"in_reply_to" json:"in_reply_to"`
	FromEmail   string           `db:"from_email" json:"from"`
	FromName    string           `db:"from_name" json:"from_name"`
	To          string           `db:"to_addrs" json:"to"`
	Cc          string           `db:"cc_addrs" json:"cc"`
	Bcc         string           `db:"bcc_addrs" json:"bcc,omitempty"` // an agent's reply's blind copies
	Subject     string           `db:"subject" json:"subject"`
	BodyText    string           `db:"body_text" json:"body_text"`
	HTMLSize    int64            `db:"html_size" json:"-"` // bytes of the HTML body; the body itself is read only to sanitise it (Store.ThreadHTML)
	AutoReply   bool             `db:"auto_reply" json:"auto_reply"`
	UserID      *int64           `db:"user_id" json:"user_id"`
	CreatedAt   time.Time        `db:"created_at" json:"created_at"` // when it was received or written here
	MailDate    *time.Time       `db:"mail_date" json:"mail_date"`   // a customer mail's Date header; nil when it had none or came before it was kept
	Unreadable  bool             `db:"unreadable" json:"unreadable"` // shows the raw text of an unparsable message in quarantine
	Attachments []AttachmentInfo `db:"-" json:"attachments"`
	Delivery    *Delivery        `db:"-" json:"delivery,omitempty"` // replies, and notes that record a forward
}

// HasHTML reports whether the thread has an HTML body.
func (t *Thread) HasHTML() bool { return t.HTMLSize > 0 }

// SanitizedHTML is a thread's HTML as the web's sanitiser made it safe for
// one view, kept so that a mail is sanitised once and not on every view.
type SanitizedHTML struct {
	ThreadID     int64  `db:"thread_id"`
	RemoteImages bool   `db:"remote_images"` // made for a view that loads remote images
	Policy       int    `db:"policy"`        // the sanitiser's version
	HTML         string `db:"html"`
	Blocked      bool   `db:"remote_blocked"` // remote images were left out
}

// ConversationChange is a PATCH of a conversation: nil fields stay as
// they are. AssigneeID 0 unassigns.
type ConversationChange struct {
	Status     *string
	AssigneeID *int64
	Seen       int64 // the version the change was made on; 0: not given
}

// Validate reports every problem of a change at once.
func (ch ConversationChange) Validate() error {
	bad := map[string]string{}
	if ch.Status != nil && !ValidStatus(*ch.Status) {
		bad["status"] = "must be one of " + strings.Join(Statuses, ", ")
	}
	if ch.AssigneeID != nil && *ch.AssigneeID < 0 {
		bad["assignee"] = "must be a user id, or null to unassign"
	}
	if ch.Status == nil && ch.AssigneeID == nil && len(bad) == 0 {
		bad["status"] = "nothing to change: give status and/or assignee"
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

// NoSuchAssignee is the one answer for an assignee who is not a user and
// for a user without access to the mailbox, so that it does not tell
// which addresses are users.
const NoSuchAssignee = "no such user with access to this mailbox"

// Assignee is a user a conversation can be assigned to.
type Assignee struct {
	ID    int64  `db:"id" json:"id"`
	Name  string `db:"name" json:"name"`
	Email string `db:"email" json:"email"`
}

// MailboxRef names a mailbox for filters and links.
type MailboxRef struct {
	ID    int64  `db:"id" json:"id"`
	Name  string `db:"name" json:"name"`
	Email string `db:"email" json:"email"`
}

// AttachmentInfo describes a stored attachment without its data.
type AttachmentInfo struct {
	ID          int64  `db:"id" json:"id"`
	ThreadID    int64  `db:"thread_id" json:"thread_id"`
	Filename    string `db:"filename" json:"filename"`
	ContentType string `db:"content_type" json:"content_type"`
	ContentID   string `db:"content_id" json:"content_id"`
	Inline      bool   `db:"inline" json:"inline"`
	Size        int64  `db:"size" json:"size"`
}

// StoredAttachment is an attachment with its data.
type StoredAttachment struct {
	AttachmentInfo
	Data []byte `db:"data"`
}

const MaxTagLength = 50

// NormalizeTag lower-cases and trims a tag name and checks it: 1 to 50
// letters, digits, spaces and "-_.:", starting with a letter or digit.
func NormalizeTag(name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	bad := func() error {
		return &ValidationError{Fields: map[string]string{"tag": fmt.Sprintf(
			"1 to %d letters, digits, spaces or - _ . : starting with a letter or digit", MaxTagLength)}}
	}
	if name == "" || utf8.RuneCountInString(name) > MaxTagLength || !utf8.ValidString(name) {
		return "", bad()
	}
	for i, r := range name {
		ok := unicode.IsLetter(r) || unicode.IsDigit(r)
		if i > 0 && !ok {
			ok = r == ' ' || r == '-' || r == '_' || r == '.' || r == ':'
		}
		if !ok {
			return "", bad()
		}
	}
	return name, nil
}
