package helpdesk

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// OutboundMail is one mail to send: a reply, a notification, an alert.
// It is enqueued in the transaction of the event that causes it.
type OutboundMail struct {
	// DedupKey names the event and recipient, e.g.
	// "notify:new-conversation:<thread>:<user>". An event processed twice
	// enqueues one row.
	DedupKey  string
	Kind      string // reply, notification, auto-ack, alert, test
	MailboxID int64  // 0 when not tied to a mailbox
	ThreadID  int64  // 0 when not tied to a thread
	From      string
	To        []string
	Cc        []string // in the Cc header and the envelope
	Bcc       []string // in the envelope only, never in a header
	Subject   string
	BodyText  string
	// BodyHTML, when set, is sent as the HTML alternative of BodyText.
	BodyHTML string
	// Headers are extra header fields (In-Reply-To, References,
	// Auto-Submitted); values must not contain line breaks.
	Headers map[string]string
}

func (m OutboundMail) Validate() error {
	bad := map[string]string{}
	if m.DedupKey == "" {
		bad["dedup_key"] = "required"
	}
	if m.From == "" || strings.ContainsAny(m.From, "\r\n") {
		bad["from"] = "required, one line"
	}
	if len(m.To) == 0 {
		bad["to"] = "at least one recipient"
	}
	for field, list := range map[string][]string{"to": m.To, "cc": m.Cc, "bcc": m.Bcc} {
		for _, to := range list {
			if strings.ContainsAny(to, "\r\n,") || !strings.Contains(to, "@") {
				bad[field] = "each recipient must be one plain address"
			}
		}
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		bad["subject"] = "must be one line"
	}
	for k, v := range m.Headers {
		if strings.ContainsAny(k, "\r\n: ") || strings.ContainsAny(v, "\r\n") {
			bad["headers"] = "names and values must be one line"
		}
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

// OutboxMessage is one outbox row.
type OutboxMessage struct {
	ID int64 `json:"id"`
	OutboundMail
	MessageID     string     `json:"message_id"` // without angle brackets
	Status        string     `json:"status"`     // pending, sent, failed
	Attempts      int        `json:"attempts"`   // claims so far, the current one included
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	LeaseOwner    string     `json:"-"`
	LeaseUntil    *time.Time `json:"-"`
	LastError     string     `json:"last_error"`
	// AttachmentCount is how many attachments the row was enqueued with;
	// Attachments are read for sending only.
	AttachmentCount int              `json:"attachment_count"`
	Attachments     []MailAttachment `json:"-"`
	CreatedAt       time.Time        `json:"created_at"`
	SentAt          *time.Time       `json:"sent_at,omitempty"`
	FailedAt        *time.Time       `json:"failed_at,omitempty"` // set while failed
}

// NewLeaseOwner returns a lease owner name unique to one claim: two
// notifiers started with the same instance name (the double-cron case)
// still hold different leases.
func NewLeaseOwner(instance string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return Truncate(instance, 100) + "/" + hex.EncodeToString(b)
}

// Recipients are the envelope's: To, Cc and Bcc, each address once (an
// address in two of them gets one copy).
func (m OutboundMail) Recipients() []string {
	var rcpts []string
	seen := map[string]bool{}
	for _, list := range [][]string{m.To, m.Cc, m.Bcc} {
		for _, a := range list {
			if key := strings.ToLower(a); !seen[key] {
				seen[key] = true
				rcpts = append(rcpts, a)
			}
		}
	}
	return rcpts
}

// MailAttachment is a file sent with an outbox row.
type MailAttachment struct {
	Filename    string `db:"filename"`
	ContentType string `db:"content_type"`
	Data        []byte `db:"data"`
}

// OutboxStats is the outbox at a glance, for the status page.
type OutboxStats struct {
	Pending          int           `json:"pending"`
	Sent             int           `json:"sent"`
	Failed           int           `json:"failed"`
	OldestPendingAge time.Duration `json:"oldest_pending_age_ns"` // 0 when nothing is pending
	LastError        string        `json:"last_error"`            // of the newest unsent mail that had one
}
