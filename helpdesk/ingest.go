package helpdesk

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// MessageSource says where on the IMAP server a message was found, and
// under which fence the fetch that found it writes.
type MessageSource struct {
	MailboxID   int64
	Folder      string
	UIDValidity uint32
	UID         uint32
	Fence       int64
	// QuarantineID is set when a quarantined message is retried.
	QuarantineID int64
}

// Outcome is what became of one fetched message.
type Outcome string

const (
	OutcomeNew         Outcome = "new"
	OutcomeDuplicate   Outcome = "duplicate"
	OutcomeQuarantined Outcome = "quarantined"
)

// IngestResult tells where an ingested message went.
type IngestResult struct {
	Outcome        Outcome
	ConversationID int64
	ThreadID       int64
}

// Ingest stores one customer message in one transaction: its customer, its
// conversation (found by threading or new), its thread, attachments and raw
// bytes, and its ledger row. Ingesting the same message again, under the
// same UID or another one, is a no-op that reports a duplicate.
func (s *Store) Ingest(ctx context.Context, src MessageSource, msg *IncomingMessage) (IngestResult, error) {
	cleanText(msg)
	if msg.DedupKey == "" {
		msg.DedupKey = "raw:" + fmt.Sprintf("%x", sha256.Sum256(msg.Raw))
	}
	var res IngestResult
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		res, err = s.ingestTx(ctx, tx, src, msg)
		return err
	})
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest %s: %w", src, err)
	}
	return res, nil
}

func (src MessageSource) String() string {
	return fmt.Sprintf("mailbox %d folder %q uid %d/%d", src.MailboxID, src.Folder, src.UIDValidity, src.UID)
}

func (s *Store) ingestTx(ctx context.Context, tx *sqlx.Tx, src MessageSource, msg *IncomingMessage) (IngestResult, error) {
	if err := s.checkFence(ctx, tx, src.MailboxID, src.Fence); err != nil {
		return IngestResult{}, err
	}
	if seen, ok, err := ledgerEntry(ctx, tx, src); err != nil {
		return IngestResult{}, err
	} else if ok && !(seen.Outcome == OutcomeQuarantined && src.QuarantineID != 0) {
		return IngestResult{Outcome: OutcomeDuplicate, ThreadID: seen.ThreadID.Int64}, nil
	}
	if threadID, ok, err := storedThreadFor(ctx, tx, src.MailboxID, msg.DedupKey); err != nil {
		return IngestResult{}, err
	} else if ok {
		return IngestResult{Outcome: OutcomeDuplicate, ThreadID: threadID},
			writeLedger(ctx, tx, src, msg.DedupKey, OutcomeDuplicate, threadID)
	}

	mb, err := mailboxAddress(ctx, tx, src.MailboxID)
	if err != nil {
		return IngestResult{}, err
	}
	customerID, err := upsertCustomer(ctx, tx, senderOf(msg))
	if err != nil {
		return IngestResult{}, err
	}
	convID, err := findConversation(ctx, tx, src.MailboxID, msg)
	if err != nil {
		return IngestResult{}, err
	}
	isNewConversation := convID == 0
	if isNewConversation {
		if convID, err = insertConversation(ctx, tx, src.MailboxID, customerID, msg); err != nil {
			return IngestResult{}, err
		}
	} else if err := touchConversation(ctx, tx, convID, msg); err != nil {
		return IngestResult{}, err
	}
	rawID, err := storeRaw(ctx, tx, msg.Raw)
	if err != nil {
		return IngestResult{}, err
	}
	threadID, err := insertCustomerThread(ctx, tx, convID, rawID, msg)
	if err != nil {
		return IngestResult{}, err
	}
	if err := addParticipants(ctx, tx, convID, mb, msg); err != nil {
		return IngestResult{}, err
	}
	if err := writeLedger(ctx, tx, src, msg.DedupKey, OutcomeNew, threadID); err != nil {
		return IngestResult{}, err
	}
	if err := s.enqueueCustomerMailNotifications(ctx, tx, src.MailboxID, convID, threadID, isNewConversation, msg); err != nil {
		return IngestResult{}, err
	}
	if src.QuarantineID != 0 {
		if err := resolveQuarantine(ctx, tx, src.QuarantineID, threadID); err != nil {
			return IngestResult{}, err
		}
	}
	return IngestResult{Outcome: OutcomeNew, ConversationID: convID, ThreadID: threadID}, nil
}

type ledgerRow struct {
	Outcome  Outcome       `db:"outcome"`
	ThreadID sql.NullInt64 `db:"thread_id"`
}

func ledgerEntry(ctx context.Context, tx *sqlx.Tx, src MessageSource) (ledgerRow, bool, error) {
	var row ledgerRow
	err := tx.GetContext(ctx, &row, tx.Rebind(`SELECT outcome, thread_id FROM fetch_ledger
		WHERE mailbox_id = ? AND folder = ? AND uidvalidity = ? AND uid = ?`), src.MailboxID, src.Folder, src.UIDValidity, src.UID)
	if errors.Is(err, sql.ErrNoRows) {
		return row, false, nil
	}
	if err != nil {
		return row, false, fmt.Errorf("read ledger: %w", err)
	}
	return row, true, nil
}

func storedThreadFor(ctx context.Context, tx *sqlx.Tx, mailboxID int64, dedupKey string) (int64, bool, error) {
	var threadID sql.NullInt64
	err := tx.GetContext(ctx, &threadID, tx.Rebind(`SELECT thread_id FROM fetch_ledger
		WHERE mailbox_id = ? AND dedup_key = ? AND outcome = 'new'`), mailboxID, dedupKey)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("look up dedup key: %w", err)
	}
	return threadID.Int64, true, nil
}

// writeLedger records what became of a message. A row left by quarantine
// is updated when the message is retried.
func writeLedger(ctx context.Context, tx *sqlx.Tx, src MessageSource, dedupKey string, outcome Outcome, threadID int64) error {
	var thread any
	if threadID != 0 {
		thread = threadID
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO fetch_ledger
		(mailbox_id, folder, uidvalidity, uid, dedup_key, outcome, thread_id, fence, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (mailbox_id, folder, uidvalidity, uid) DO UPDATE SET
			dedup_key = excluded.dedup_key, outcome = excluded.outcome, thread_id = excluded.thread_id, fence = excluded.fence`),
		src.MailboxID, src.Folder, src.UIDValidity, src.UID, dedupKey, outcome, thread, src.Fence, now())
	if err != nil {
		return fmt.Errorf("write ledger: %w", err)
	}
	return nil
}

func mailboxAddress(ctx context.Context, tx *sqlx.Tx, mailboxID int64) (string, error) {
	var email string
	err := tx.GetContext(ctx, &email, tx.Rebind(`SELECT email FROM mailboxes WHERE id = ?`), mailboxID)
	if err != nil {
		return "", fmt.Errorf("read mailbox %d: %w", mailboxID, err)
	}
	return email, nil
}

// senderOf is who the conversation is with: From, else Reply-To.
func senderOf(msg *IncomingMessage) Address {
	if msg.From.Email != "" || len(msg.ReplyTo) == 0 {
		return msg.From
	}
	return msg.ReplyTo[0]
}

// upsertCustomer returns the customer with this address, creating it if
// needed; concurrent first mails from one address both get the one row.
func upsertCustomer(ctx context.Context, tx *sqlx.Tx, a Address) (int64, error) {
	var id int64
	err := tx.GetContext(ctx, &id, tx.Rebind(`INSERT INTO customers (email, name, created_at) VALUES (?, ?, ?)
		ON CONFLICT (email) DO UPDATE SET name = CASE WHEN customers.name = '' THEN excluded.name ELSE customers.name END
		RETURNING id`), strings.ToLower(a.Email), truncate(a.Name, 200), now())
	if err != nil {
		return 0, fmt.Errorf("upsert customer %q: %w", a.Email, err)
	}
	return id, nil
}

func insertConversation(ctx context.Context, tx *sqlx.Tx, mailboxID, customerID int64, msg *IncomingMessage) (int64, error) {
	t := now()
	var id int64
	err := tx.GetContext(ctx, &id, tx.Rebind(`INSERT INTO conversations
		(mailbox_id, customer_id, subject, status, preview, created_at, updated_at, last_message_at)
		VALUES (?, ?, ?, 'active', ?, ?, ?, ?) RETURNING id`),
		mailboxID, customerID, subjectOrDefault(msg.Subject), preview(msg.Text), t, t, t)
	if err != nil {
		return 0, fmt.Errorf("insert conversation: %w", err)
	}
	return id, nil
}

// touchConversation moves a conversation up on a new customer message and
// reopens it, unless the message is an auto-reply.
func touchConversation(ctx context.Context, tx *sqlx.Tx, convID int64, msg *IncomingMessage) error {
	t := now()
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE conversations SET last_message_at = ?, updated_at = ?, preview = ?,
		status = CASE WHEN status IN ('closed', 'pending') AND ? THEN 'active' ELSE status END
		WHERE id = ?`), t, t, preview(msg.Text), !msg.AutoReply, convID)
	if err != nil {
		return fmt.Errorf("update conversation %d: %w", convID, err)
	}
	return nil
}

func insertCustomerThread(ctx context.Context, tx *sqlx.Tx, convID, rawID int64, msg *IncomingMessage) (int64, error) {
	var id int64
	err := tx.GetContext(ctx, &id, tx.Rebind(`INSERT INTO threads
		(conversation_id, kind, message_id, in_reply_to, from_email, from_name, to_addrs, cc_addrs, subject,
		 body_text, body_html, auto_reply, raw_id, created_at)
		VALUES (?, 'customer', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		convID, msg.MessageID, msg.InReplyTo, senderOf(msg).Email, truncate(senderOf(msg).Name, 200),
		joinAddresses(msg.To), joinAddresses(msg.Cc), msg.Subject, msg.Text, msg.HTML, msg.AutoReply, rawID, now())
	if err != nil {
		return 0, fmt.Errorf("insert thread: %w", err)
	}
	for _, a := range msg.Attachments {
		_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO attachments (thread_id, filename, content_type, content_id, inline, size, data)
			VALUES (?, ?, ?, ?, ?, ?, ?)`), id, a.Filename, a.ContentType, a.ContentID, a.Inline, len(a.Data), a.Data)
		if err != nil {
			return 0, fmt.Errorf("insert attachment %q: %w", a.Filename, err)
		}
	}
	return id, nil
}

// addParticipants records the sender and the other addresses on the mail
// (not the mailbox itself), who may thread by [#N] subject token later.
func addParticipants(ctx context.Context, tx *sqlx.Tx, convID int64, mailboxEmail string, msg *IncomingMessage) error {
	addrs := append([]Address{senderOf(msg)}, msg.Cc...)
	addrs = append(addrs, msg.To...)
	for _, a := range addrs {
		email := strings.ToLower(a.Email)
		if email == "" || email == mailboxEmail {
			continue
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO conversation_participants (conversation_id, email)
			VALUES (?, ?) ON CONFLICT DO NOTHING`), convID, email); err != nil {
			return fmt.Errorf("add participant: %w", err)
		}
	}
	return nil
}

func joinAddresses(as []Address) string {
	parts := make([]string, 0, len(as))
	for _, a := range as {
		parts = append(parts, a.Email)
	}
	return strings.Join(parts, ", ")
}

func subjectOrDefault(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(no subject)"
	}
	return truncate(s, 998)
}

func preview(text string) string {
	return truncate(strings.Join(strings.Fields(text), " "), 200)
}

// cleanText makes the text fields storable in both databases: PostgreSQL
// refuses NUL bytes and invalid UTF-8 in text columns.
func cleanText(msg *IncomingMessage) {
	fields := []*string{&msg.Subject, &msg.Text, &msg.HTML, &msg.From.Name, &msg.From.Email, &msg.MessageID, &msg.InReplyTo}
	for i := range msg.References {
		fields = append(fields, &msg.References[i])
	}
	for _, list := range [][]Address{msg.To, msg.Cc, msg.ReplyTo} {
		for i := range list {
			fields = append(fields, &list[i].Name, &list[i].Email)
		}
	}
	for i := range msg.Attachments {
		a := &msg.Attachments[i]
		fields = append(fields, &a.Filename, &a.ContentType, &a.ContentID)
	}
	for _, f := range fields {
		*f = storable(*f)
	}
}

func storable(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}
