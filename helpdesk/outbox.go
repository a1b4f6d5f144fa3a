package helpdesk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
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
	Subject   string
	BodyText  string
	// Headers are extra header fields (In-Reply-To, References,
	// Auto-Submitted); values must not contain line breaks.
	Headers map[string]string
}

// OutboxMessageID is the Message-ID of an outbox row, derived from its dedup
// key: a resend carries the same one, and a customer's answer that quotes
// it threads back to the conversation.
func OutboxMessageID(dedupKey, from string) string {
	sum := sha256.Sum256([]byte(dedupKey))
	domain := "helpdesk.invalid"
	if _, d, ok := strings.Cut(from, "@"); ok && d != "" {
		domain = d
	}
	return ourMessageIDPrefix + hex.EncodeToString(sum[:12]) + "@" + domain
}

const ourMessageIDPrefix = "hd-"

// mayBeOurs tells whether a Message-ID can be one the outbox made, which
// saves looking up every incoming Message-ID in the outbox.
func mayBeOurs(messageID string) bool { return strings.HasPrefix(messageID, ourMessageIDPrefix) }

// enqueueTx adds a mail to the outbox inside the caller's transaction and
// returns its Message-ID (without angle brackets). An existing row with the
// same dedup key is kept as it is.
func enqueueTx(ctx context.Context, tx sqlTx, m OutboundMail) (string, error) {
	if err := m.validate(); err != nil {
		return "", err
	}
	messageID := OutboxMessageID(m.DedupKey, m.From)
	t := now()
	err := tx.insert(ctx, insertOutbox, m.DedupKey, m.Kind, nullID(m.MailboxID), nullID(m.ThreadID), m.From,
		strings.Join(m.To, ", "), m.Subject, m.BodyText, encodeHeaders(m.Headers), messageID, "pending", int64(0), t, t)
	if err != nil {
		return "", fmt.Errorf("enqueue %s: %w", m.DedupKey, err)
	}
	return messageID, nil
}

func (m OutboundMail) validate() error {
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
	for _, to := range m.To {
		if strings.ContainsAny(to, "\r\n,") || !strings.Contains(to, "@") {
			bad["to"] = "each recipient must be one plain address"
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

// encodeHeaders stores extra headers as "Name: value" lines, sorted.
func encodeHeaders(h map[string]string) string {
	lines := make([]string, 0, len(h))
	for k, v := range h {
		lines = append(lines, k+": "+v)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
