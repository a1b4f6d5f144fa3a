package store

import (
	"context"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// ForwardConversation sends the conversation's mail (the customer's
// messages and the agents' replies, never notes) as text, with their
// attachments, to an address outside it, and records that on the
// conversation as a note. The mail carries no [#N] token and no
// References: an answer from that address starts a conversation of its
// own instead of threading in as the customer.
func (s *Store) ForwardConversation(ctx context.Context, v helpdesk.Viewer, convID int64, f helpdesk.Forward) (*helpdesk.Written, error) {
	to := strings.TrimSpace(f.To)
	if a, err := mail.ParseAddress(to); err != nil || a.Address != to || !strings.Contains(to, "@") {
		return nil, &helpdesk.ValidationError{Fields: map[string]string{"forward_to": "must be one plain e-mail address like ann@example.com"}}
	}
	note := strings.ReplaceAll(f.Note, "\r\n", "\n")
	if len(note) > helpdesk.MaxBodyLength || strings.ContainsRune(note, 0) {
		return nil, &helpdesk.ValidationError{Fields: map[string]string{"forward_note": fmt.Sprintf("at most %d characters of text", helpdesk.MaxBodyLength)}}
	}
	w := &helpdesk.Written{ConversationID: convID}
	err := s.inTx(ctx, func(t *tx) error {
		mailboxID, err := checkAccessTx(ctx, t, v, convID)
		if err != nil {
			return err
		}
		if err := refuseOwnAddressesTx(ctx, t, &s.convQ, map[string][]string{"forward_to": {to}}); err != nil {
			return err
		}
		cv, err := versionsTx(ctx, t, convID)
		if err != nil {
			return err
		}
		if err := cv.staleness(f.Seen, cv.messagesChange(v.UserID)...); err != nil {
			return err
		}
		var rc replyContext
		if err := t.get(ctx, &rc, s.convQ.ReplyContext, convID); err != nil {
			return fmt.Errorf("read conversation %d: %w", convID, err)
		}
		var threads []helpdesk.Thread
		if err := t.sel(ctx, &threads, s.convQ.ConversationThreads, convID); err != nil {
			return fmt.Errorf("read threads of conversation %d: %w", convID, err)
		}
		record := "Forwarded this conversation to " + to + "."
		if strings.TrimSpace(note) != "" {
			record += "\n\n" + note
		}
		if w.ThreadID, err = s.writeNoteTx(ctx, t, v, mailboxID, convID, cv, record); err != nil {
			return err
		}
		w.MessageID, err = enqueueComposedTx(ctx, t, helpdesk.OutboundMail{
			DedupKey:  "forward:" + strconv.FormatInt(w.ThreadID, 10),
			Kind:      "forward",
			MailboxID: rc.MailboxID,
			ThreadID:  w.ThreadID,
			From:      rc.MailboxEmail,
			To:        []string{to},
			Subject:   helpdesk.Truncate("Fwd: "+helpdesk.OneLine(rc.Subject, 900), 900),
			BodyText:  forwardText(note, rc, threads),
		}, outboxFiles{conversationID: convID})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("forward conversation %d: %w", convID, err)
	}
	return w, nil
}

// forwardText is the agent's note above the conversation's mail, oldest
// first, each with who wrote it and when.
func forwardText(note string, rc replyContext, threads []helpdesk.Thread) string {
	var b strings.Builder
	if strings.TrimSpace(note) != "" {
		b.WriteString(note + "\n\n")
	}
	b.WriteString("---------- Forwarded conversation ----------\n")
	b.WriteString("Subject: " + helpdesk.OneLine(rc.Subject, 900) + "\n")
	b.WriteString("Customer: " + rc.CustomerEmail + "\n")
	for _, th := range threads {
		if th.Kind == "note" {
			continue
		}
		from := th.FromEmail
		if th.FromName != "" {
			from = helpdesk.OneLine(th.FromName, 200) + " <" + th.FromEmail + ">"
		}
		date := th.CreatedAt
		if th.MailDate != nil {
			date = *th.MailDate
		}
		b.WriteString("\nFrom: " + from + "\nDate: " + date.UTC().Format(time.RFC1123Z) + "\n")
		if th.Cc != "" {
			b.WriteString("Cc: " + th.Cc + "\n")
		}
		b.WriteString("\n" + strings.TrimRight(th.BodyText, "\n") + "\n")
	}
	return strings.ReplaceAll(b.String(), "\r\n", "\n")
}
