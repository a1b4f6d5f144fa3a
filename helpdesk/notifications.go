package helpdesk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// LoopHeader names the helpdesk mailbox that sent an automatic mail
// (notification, auto-acknowledgement, alert, test). Mail that comes back
// carrying one of our own mailbox addresses in it is never answered or
// notified on.
const LoopHeader = "X-Helpdesk-Loop"

// AutoAckInterval is how often one sender can get an auto-acknowledgement
// from one mailbox: a second helpdesk or an autoresponder that strips
// Auto-Submitted still cannot make us loop.
const AutoAckInterval = time.Hour

// notificationExcerpt caps the customer text quoted in a notification.
const notificationExcerpt = 4000

// automaticHeaders mark mail the helpdesk sends on its own (RFC 3834), so
// that other systems do not answer it and we recognise it coming back.
func automaticHeaders(autoSubmitted, mailboxEmail string) map[string]string {
	return map[string]string{
		"Auto-Submitted":           autoSubmitted,
		LoopHeader:                 mailboxEmail,
		"X-Auto-Response-Suppress": "All", // Exchange: no out-of-office replies
	}
}

type recipient struct {
	ID    int64  `db:"id"`
	Email string `db:"email"`
	Name  string `db:"name"`
}

// enqueueCustomerMailNotifications runs inside the ingest transaction of a
// new customer thread: it enqueues "new conversation" or "customer reply"
// notifications for the users with access to the mailbox who want them,
// and the mailbox's auto-acknowledgement of a new conversation. Nothing is
// enqueued for auto-replies, bounces or our own mail coming back. The dedup
// keys name the thread, so an ingest retried or run twice enqueues once.
func enqueueCustomerMailNotifications(ctx context.Context, t *fetchTx, conv threadedConversation, threadID int64, msg *IncomingMessage) error {
	mb := t.mailbox
	if reason, err := automaticMail(ctx, t, msg); err != nil || reason != "" {
		return err
	}
	sender := senderOf(msg)
	event, pref, headline := "customer-reply", "notify_customer_reply", "New reply from the customer"
	if conv.created {
		event, pref, headline = "new-conversation", "notify_new_conversation", "New conversation"
	}
	// A reply in an assigned conversation concerns its assignee only.
	var onlyUser int64
	if !conv.created && conv.AssigneeID.Valid {
		onlyUser = conv.AssigneeID.Int64
	}
	users, err := t.notifiedUsers(ctx, pref, onlyUser)
	if err != nil {
		return err
	}
	for _, u := range users {
		if strings.EqualFold(u.Email, sender.Email) {
			continue // an agent writing to the support address
		}
		err := enqueueIfValid(ctx, t, OutboundMail{
			DedupKey:  fmt.Sprintf("notify:%s:%d:%d", event, threadID, u.ID),
			Kind:      "notification",
			MailboxID: mb.ID,
			ThreadID:  threadID,
			From:      mb.Email,
			To:        []string{u.Email},
			Subject:   oneLine(fmt.Sprintf("[#%d] %s: %s", conv.ID, headline, conv.Subject), 900),
			BodyText: fmt.Sprintf("%s #%d in %s\nFrom: %s\nSubject: %s\n\n%s\n",
				headline, conv.ID, oneLine(mb.Name, 200), formatSender(sender), oneLine(msg.Subject, 900),
				truncate(strings.TrimSpace(msg.Text), notificationExcerpt)),
			Headers: automaticHeaders("auto-generated", mb.Email),
		})
		if err != nil {
			return err
		}
	}
	if conv.created && mb.AutoAck {
		return enqueueAutoAck(ctx, t, mb, conv.ID, threadID, msg)
	}
	return nil
}

// notifiedUsers are the users with access to the mailbox (admins, and
// agents given the mailbox) whose preference column pref is on; with
// onlyUser set, just that user if so.
func notifiedUsers(ctx context.Context, tx sqlTx, mailboxID int64, pref string, onlyUser int64) ([]recipient, error) {
	switch pref { // a column name, never input
	case "notify_new_conversation", "notify_customer_reply", "notify_assigned":
	default:
		return nil, fmt.Errorf("unknown notification preference %q", pref)
	}
	q := `SELECT u.id, u.email, u.name FROM users u
		WHERE u.` + pref + ` = ?
		AND (u.role = 'admin' OR EXISTS (SELECT 1 FROM user_mailboxes um WHERE um.user_id = u.id AND um.mailbox_id = ?))`
	args := []any{true, mailboxID}
	if onlyUser != 0 {
		q += ` AND u.id = ?`
		args = append(args, onlyUser)
	}
	var users []recipient
	if err := tx.sel(ctx, &users, q+` ORDER BY u.id`, args...); err != nil {
		return nil, fmt.Errorf("list users to notify: %w", err)
	}
	return users, nil
}

// automaticMail tells why nothing may answer or notify on msg: an
// auto-reply or bounce, our own mail coming back (its Message-ID or
// X-Helpdesk-Loop is ours), or an answer to a notification we sent to
// staff. "" means a person wrote it. An answer to an agent's reply or to an
// auto-acknowledgement is a customer writing, and counts.
func automaticMail(ctx context.Context, tx *fetchTx, msg *IncomingMessage) (string, error) {
	if msg.AutoReply {
		return "auto-reply: " + msg.AutoReason, nil
	}
	if v := msg.AutoSubmitted; v != "" && v != "no" {
		return "auto-submitted: " + v, nil
	}
	if msg.LoopMailbox != "" {
		var n int
		if err := tx.get(ctx, &n, `SELECT COUNT(*) FROM mailboxes WHERE email = ?`, msg.LoopMailbox); err != nil {
			return "", fmt.Errorf("check loop header: %w", err)
		}
		if n > 0 {
			return "our own mail (" + LoopHeader + ")", nil
		}
	}
	if mayBeOurs(msg.MessageID) {
		if err := tx.flushFor(ctx, messageIDLookups(msg.MessageID)...); err != nil {
			return "", err
		}
		var n int
		if err := tx.get(ctx, &n, `SELECT COUNT(*) FROM outbox WHERE message_id = ?`, msg.MessageID); err != nil {
			return "", fmt.Errorf("check own message id: %w", err)
		}
		if n > 0 {
			return "our own mail (Message-ID)", nil
		}
	}
	if mayBeOurs(msg.InReplyTo) {
		if err := tx.flushFor(ctx, messageIDLookups(msg.InReplyTo)...); err != nil {
			return "", err
		}
		var n int
		if err := tx.get(ctx, &n, `SELECT COUNT(*) FROM outbox
			WHERE message_id = ? AND kind IN ('notification', 'alert', 'test')`, msg.InReplyTo); err != nil {
			return "", fmt.Errorf("check in-reply-to: %w", err)
		}
		if n > 0 {
			return "answer to our notification", nil
		}
	}
	return "", nil
}

// enqueueAutoAck acknowledges a new conversation to its sender, at most
// once per AutoAckInterval per sender and mailbox (table auto_acks).
// Ingest of one mailbox is serialised by its fence row, so the check and
// the insert cannot race. The ack says Auto-Submitted: auto-replied, so a
// well-behaved helpdesk or autoresponder on the other side stays silent.
func enqueueAutoAck(ctx context.Context, tx sqlTx, mb mailboxInfo, convID, threadID int64, msg *IncomingMessage) error {
	to := strings.ToLower(senderOf(msg).Email)
	if to == "" || noReplyAddress(to) {
		return nil
	}
	var known int
	if err := tx.get(ctx, &known, `SELECT COUNT(*) FROM mailboxes WHERE email = ?`, to); err != nil {
		return fmt.Errorf("check auto-ack recipient: %w", err)
	}
	if known > 0 {
		return nil // one of our own mailboxes
	}
	t := now()
	var recent int
	if err := tx.get(ctx, &recent, `SELECT COUNT(*) FROM auto_acks
		WHERE mailbox_id = ? AND email = ? AND sent_at > ?`, mb.ID, to, t.Add(-AutoAckInterval)); err != nil {
		return fmt.Errorf("check auto-ack rate: %w", err)
	}
	if recent > 0 {
		return nil
	}
	headers := automaticHeaders("auto-replied", mb.Email)
	if msg.MessageID != "" && !strings.ContainsAny(msg.MessageID, "<>\r\n \t") {
		headers["In-Reply-To"] = "<" + msg.MessageID + ">"
		headers["References"] = "<" + msg.MessageID + ">"
	}
	subject := oneLine(msg.Subject, 900)
	if subject == "" {
		subject = "your message"
	}
	if !strings.HasPrefix(strings.ToLower(subject), "re:") {
		subject = "Re: " + subject
	}
	m := OutboundMail{
		DedupKey:  fmt.Sprintf("ack:%d:%d", mb.ID, threadID),
		Kind:      "auto-ack",
		MailboxID: mb.ID,
		ThreadID:  threadID,
		From:      mb.Email,
		To:        []string{to},
		Subject:   SubjectWithToken(subject, convID),
		BodyText: fmt.Sprintf("Hello,\n\nwe have received your message and will answer as soon as we can.\n"+
			"Your reference is #%d; please keep it in the subject if you write again.\n\n%s\n",
			convID, oneLine(mb.Name, 200)),
		Headers: headers,
	}
	if m.validate() != nil {
		return nil // a sender address we cannot write to
	}
	if _, err := tx.exec(ctx, `INSERT INTO auto_acks (mailbox_id, email, sent_at) VALUES (?, ?, ?)`, mb.ID, to, t); err != nil {
		return fmt.Errorf("record auto-ack: %w", err)
	}
	_, err := enqueueTx(ctx, tx, m)
	return err
}

// noReplyAddress: addresses no automatic answer should go to (RFC 3834 2).
func noReplyAddress(email string) bool {
	local, _, _ := strings.Cut(email, "@")
	switch local {
	case "mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply":
		return true
	}
	return strings.HasPrefix(local, "owner-") || strings.HasSuffix(local, "-request") || strings.HasSuffix(local, "-bounces")
}

// notifyAssignedTx enqueues the "assigned to you" notification, in the
// transaction that sets conversations.assignee_id. For the assign action:
// call it after the UPDATE, only when the assignee actually changes:
//
//	if err := notifyAssignedTx(ctx, tx, convID, newAssigneeID, actingUserID); err != nil { return err }
//
// Nothing is enqueued when assigneeID is 0 (unassigned), when users assign
// themselves, or when the assignee has notify_assigned off or no access to
// the mailbox. byUserID 0 means the system. The dedup key is
// notify:assigned:<conversation>:<assignee>:<newest thread>: a retried
// request enqueues once, and assigning the same person again with no new
// message in between sends nothing new.
func notifyAssignedTx(ctx context.Context, tx *sqlx.Tx, convID, assigneeID, byUserID int64) error {
	if assigneeID == 0 || assigneeID == byUserID {
		return nil
	}
	var conv struct {
		MailboxID    int64  `db:"mailbox_id"`
		Subject      string `db:"subject"`
		MailboxName  string `db:"mailbox_name"`
		MailboxEmail string `db:"mailbox_email"`
		LastThread   int64  `db:"last_thread"`
	}
	err := tx.GetContext(ctx, &conv, tx.Rebind(`SELECT c.mailbox_id, c.subject, m.name AS mailbox_name, m.email AS mailbox_email,
		COALESCE((SELECT MAX(t.id) FROM threads t WHERE t.conversation_id = c.id), 0) AS last_thread
		FROM conversations c JOIN mailboxes m ON m.id = c.mailbox_id WHERE c.id = ?`), convID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("notify assignment of conversation %d: %w", convID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("read conversation %d for assignment notification: %w", convID, err)
	}
	users, err := notifiedUsers(ctx, plainTx{tx}, conv.MailboxID, "notify_assigned", assigneeID)
	if err != nil || len(users) == 0 {
		return err
	}
	by := "The helpdesk"
	if byUserID != 0 {
		var name string
		err := tx.GetContext(ctx, &name, tx.Rebind(`SELECT name FROM users WHERE id = ?`), byUserID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read assigning user: %w", err)
		}
		if name != "" {
			by = oneLine(name, 200)
		}
	}
	u := users[0]
	return enqueueIfValid(ctx, plainTx{tx}, OutboundMail{
		DedupKey:  fmt.Sprintf("notify:assigned:%d:%d:%d", convID, u.ID, conv.LastThread),
		Kind:      "notification",
		MailboxID: conv.MailboxID,
		ThreadID:  conv.LastThread,
		From:      conv.MailboxEmail,
		To:        []string{u.Email},
		Subject:   oneLine(fmt.Sprintf("[#%d] Assigned to you: %s", convID, conv.Subject), 900),
		BodyText: fmt.Sprintf("%s assigned conversation #%d in %s to you.\nSubject: %s\n",
			by, convID, oneLine(conv.MailboxName, 200), oneLine(conv.Subject, 900)),
		Headers: automaticHeaders("auto-generated", conv.MailboxEmail),
	})
}

// enqueueIfValid enqueues m unless an address in it cannot be mailed:
// a broken stored address must not fail the ingest that notifies.
func enqueueIfValid(ctx context.Context, tx sqlTx, m OutboundMail) error {
	if m.validate() != nil {
		return nil
	}
	_, err := enqueueTx(ctx, tx, m)
	return err
}

func formatSender(a Address) string {
	if a.Name == "" {
		return a.Email
	}
	return oneLine(a.Name, 200) + " <" + a.Email + ">"
}
