package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// notificationExcerpt caps the customer text quoted in a notification.
const notificationExcerpt = 4000

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
func enqueueCustomerMailNotifications(ctx context.Context, t *tx, conv threadedConversation, threadID int64, msg *helpdesk.IncomingMessage) error {
	mb := t.fetch.mailbox
	if reason, err := automaticMail(ctx, t, msg); err != nil || reason != "" {
		return err
	}
	sender := msg.Sender()
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
		err := enqueueIfValid(ctx, t, helpdesk.OutboundMail{
			DedupKey:  fmt.Sprintf("notify:%s:%d:%d", event, threadID, u.ID),
			Kind:      "notification",
			MailboxID: mb.ID,
			ThreadID:  threadID,
			From:      mb.Email,
			To:        []string{u.Email},
			Subject:   helpdesk.OneLine(fmt.Sprintf("[#%d] %s: %s", conv.ID, headline, conv.Subject), 900),
			BodyText: fmt.Sprintf("%s #%d in %s\nFrom: %s\nSubject: %s\n%s\n%s\n",
				headline, conv.ID, helpdesk.OneLine(mb.Name, 200), helpdesk.FormatSender(sender), helpdesk.OneLine(msg.Subject, 900),
				t.store.pageLink(fmt.Sprintf("/conversations/%d", conv.ID)),
				helpdesk.Truncate(strings.TrimSpace(msg.Text), notificationExcerpt)),
			Headers: t.store.signer.AutomaticHeaders("auto-generated", mb.Email),
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

// pageLink is a line linking to the web UI's page at path, or "" when
// the store was not given the web's public URL.
func (s *Store) pageLink(path string) string {
	if s.publicURL == "" {
		return ""
	}
	return "Open: " + s.publicURL + path + "\n"
}

// notifiedUsers are the users with access to the mailbox (admins, and
// agents given the mailbox) whose preference column pref is on; with
// onlyUser set, just that user if so.
func notifiedUsers(ctx context.Context, t *tx, mailboxID int64, pref string, onlyUser int64) ([]recipient, error) {
	var users []recipient
	if err := t.sel(ctx, &users, t.q().NotifiedUsers, pref, mailboxID, onlyUser, onlyUser); err != nil {
		return nil, fmt.Errorf("list users to notify: %w", err)
	}
	return users, nil
}

// automaticMail tells why nothing may answer or notify on msg: an
// auto-reply or bounce, our own mail coming back (its Message-ID or
// X-Helpdesk-Loop is ours, which only our key can make), or an answer to a
// notification we sent to staff. "" means a person wrote it. An answer to
// an agent's reply or to an auto-acknowledgement is a customer writing,
// and counts.
func automaticMail(ctx context.Context, t *tx, msg *helpdesk.IncomingMessage) (string, error) {
	if msg.AutoReply {
		return "auto-reply: " + msg.AutoReason, nil
	}
	if v := msg.AutoSubmitted; v != "" && v != "no" {
		return "auto-submitted: " + v, nil
	}
	signer := t.store.signer
	if signer.OurLoop(msg.Loop) {
		return "our own mail (" + helpdesk.LoopHeader + ")", nil
	}
	if signer.OurMessageID(msg.MessageID) {
		return "our own mail (Message-ID)", nil
	}
	if signer.OurMessageID(msg.InReplyTo) {
		if err := t.flushFor(ctx, messageIDLookups(msg.InReplyTo)...); err != nil {
			return "", err
		}
		var n int
		if err := t.get(ctx, &n, t.q().CountNotificationsByMessageID, msg.InReplyTo); err != nil {
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
func enqueueAutoAck(ctx context.Context, t *tx, mb mailboxInfo, convID, threadID int64, msg *helpdesk.IncomingMessage) error {
	to := strings.ToLower(msg.Sender().Email)
	if to == "" || helpdesk.NoReplyAddress(to) {
		return nil
	}
	var known int
	if err := t.get(ctx, &known, t.q().CountMailboxesByEmail, to); err != nil {
		return fmt.Errorf("check auto-ack recipient: %w", err)
	}
	if known > 0 {
		return nil // one of our own mailboxes
	}
	at := now()
	var recent int
	if err := t.get(ctx, &recent, t.q().RecentAutoAcks, mb.ID, to, at.Add(-helpdesk.AutoAckInterval)); err != nil {
		return fmt.Errorf("check auto-ack rate: %w", err)
	}
	if recent > 0 {
		return nil
	}
	headers := t.store.signer.AutomaticHeaders("auto-replied", mb.Email)
	if msg.MessageID != "" && !strings.ContainsAny(msg.MessageID, "<>\r\n \t") {
		headers["In-Reply-To"] = "<" + msg.MessageID + ">"
		headers["References"] = "<" + msg.MessageID + ">"
	}
	subject := helpdesk.OneLine(msg.Subject, 900)
	if subject == "" {
		subject = "your message"
	}
	if !strings.HasPrefix(strings.ToLower(subject), "re:") {
		subject = "Re: " + subject
	}
	m := helpdesk.OutboundMail{
		DedupKey:  fmt.Sprintf("ack:%d:%d", mb.ID, threadID),
		Kind:      "auto-ack",
		MailboxID: mb.ID,
		ThreadID:  threadID,
		From:      mb.Email,
		To:        []string{to},
		Subject:   helpdesk.SubjectWithToken(subject, convID),
		BodyText: fmt.Sprintf("Hello,\n\nwe have received your message and will answer as soon as we can.\n"+
			"Your reference is #%d; please keep it in the subject if you write again.\n\n%s\n",
			convID, helpdesk.OneLine(mb.Name, 200)),
		Headers: headers,
	}
	if m.Validate() != nil {
		return nil // a sender address we cannot write to
	}
	if _, err := t.exec(ctx, t.q().RecordAutoAck, mb.ID, to, at); err != nil {
		return fmt.Errorf("record auto-ack: %w", err)
	}
	_, err := enqueueTx(ctx, t, m)
	return err
}

// notifyAssignedTx enqueues the "assigned to you" notification, in the
// transaction that sets conversations.assignee_id. For the assign action:
// call it after the UPDATE, only when the assignee actually changes:
//
//	if err := notifyAssignedTx(ctx, t, convID, newAssigneeID, actingUserID); err != nil { return err }
//
// Nothing is enqueued when assigneeID is 0 (unassigned), when users assign
// themselves, or when the assignee has notify_assigned off or no access to
// the mailbox. byUserID 0 means the system. The dedup key is
// notify:assigned:<conversation>:<assignee>:<newest thread>: a retried
// request enqueues once, and assigning the same person again with no new
// message in between sends nothing new.
func notifyAssignedTx(ctx context.Context, t *tx, convID, assigneeID, byUserID int64) error {
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
	err := t.get(ctx, &conv, t.q().AssignedConversation, convID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("notify assignment of conversation %d: %w", convID, helpdesk.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("read conversation %d for assignment notification: %w", convID, err)
	}
	users, err := notifiedUsers(ctx, t, conv.MailboxID, "notify_assigned", assigneeID)
	if err != nil || len(users) == 0 {
		return err
	}
	by := "The helpdesk"
	if byUserID != 0 {
		var name string
		err := t.get(ctx, &name, t.q().UserName, byUserID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read assigning user: %w", err)
		}
		if name != "" {
			by = helpdesk.OneLine(name, 200)
		}
	}
	u := users[0]
	return enqueueIfValid(ctx, t, helpdesk.OutboundMail{
		DedupKey:  fmt.Sprintf("notify:assigned:%d:%d:%d", convID, u.ID, conv.LastThread),
		Kind:      "notification",
		MailboxID: conv.MailboxID,
		ThreadID:  conv.LastThread,
		From:      conv.MailboxEmail,
		To:        []string{u.Email},
		Subject:   helpdesk.OneLine(fmt.Sprintf("[#%d] Assigned to you: %s", convID, conv.Subject), 900),
		BodyText: fmt.Sprintf("%s assigned conversation #%d in %s to you.\nSubject: %s\n%s",
			by, convID, helpdesk.OneLine(conv.MailboxName, 200), helpdesk.OneLine(conv.Subject, 900),
			t.store.pageLink(fmt.Sprintf("/conversations/%d", convID))),
		Headers: t.store.signer.AutomaticHeaders("auto-generated", conv.MailboxEmail),
	})
}

// enqueueIfValid enqueues m unless an address in it cannot be mailed:
// a broken stored address must not fail the ingest that notifies.
func enqueueIfValid(ctx context.Context, t *tx, m helpdesk.OutboundMail) error {
	if m.Validate() != nil {
		return nil
	}
	_, err := enqueueTx(ctx, t, m)
	return err
}
