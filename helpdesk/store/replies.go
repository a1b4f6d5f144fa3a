package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// replyContext is what a reply needs to know about its conversation.
type replyContext struct {
	MailboxID     int64  `db:"mailbox_id"`
	MailboxEmail  string `db:"mailbox_email"`
	CustomerEmail string `db:"customer_email"`
	Subject       string `db:"subject"`
}

// AddReply answers the customer: in one transaction it stores the reply
// thread with its files and enqueues the mail (From the mailbox address, To
// the customer, r.Cc and r.Bcc, In-Reply-To the last customer message,
// References the chain, subject with the [#N] token, the text with its HTML
// rendered from Markdown, the files) and sets the status (pending unless
// r.Status says otherwise), as one new version. The thread's message_id is the outbox
// row's Message-ID, so the customer's answer threads back by In-Reply-To.
// It is refused (*helpdesk.StaleError) when a customer message or another
// agent's reply arrived since r.Seen: the agent reads it first.
func (s *Store) AddReply(ctx context.Context, v helpdesk.Viewer, convID int64, r helpdesk.NewReply) (*helpdesk.Written, error) {
	body, cc, bcc, err := checkReply(r)
	if err != nil {
		return nil, err
	}
	status := r.Status
	if status == "" {
		status = helpdesk.StatusPending
	}
	w := &helpdesk.Written{ConversationID: convID}
	q := &s.convQ
	err = s.inTx(ctx, func(t *tx) error {
		mailboxID, err := checkAccessTx(ctx, t, v, convID)
		if err != nil {
			return err
		}
		if err := refuseOwnAddressesTx(ctx, t, q, map[string][]string{"cc": cc, "bcc": bcc}); err != nil {
			return err
		}
		cv, err := versionsTx(ctx, t, convID)
		if err != nil {
			return err
		}
		if err := cv.staleness(r.Seen, cv.messagesChange(v.UserID)...); err != nil {
			return err
		}
		var rc replyContext
		if err := t.get(ctx, &rc, q.ReplyContext, convID); err != nil {
			return fmt.Errorf("read conversation %d: %w", convID, err)
		}
		author, err := authorTx(ctx, t, v.UserID)
		if err != nil {
			return err
		}
		// The body as it is sent and stored: with the mailbox's signature.
		body, err := signedTx(ctx, t, convID, author.Name, body)
		if err != nil {
			return err
		}
		html, err := helpdesk.RenderMarkdown(body)
		if err != nil {
			return err
		}
		inReplyTo, refs, err := referencesTx(ctx, t, convID)
		if err != nil {
			return err
		}
		subject := helpdesk.SubjectWithToken(helpdesk.ReplySubject(rc.Subject), convID)

		if err := t.get(ctx, &w.ThreadID, q.InsertReply, convID, inReplyTo, rc.MailboxEmail, author.Name, rc.CustomerEmail,
			strings.Join(cc, ", "), strings.Join(bcc, ", "), subject, body, html, v.UserID, now()); err != nil {
			return fmt.Errorf("insert reply: %w", err)
		}
		for _, a := range r.Attachments {
			if err := t.insert(ctx, insertAttachment, w.ThreadID, helpdesk.AttachmentFilename(a.Filename),
				helpdesk.AttachmentType(a.ContentType), "", false, int64(len(a.Data)), a.Data); err != nil {
				return err
			}
		}
		headers := map[string]string{}
		if inReplyTo != "" {
			headers["In-Reply-To"] = "<" + inReplyTo + ">"
		}
		if len(refs) > 0 {
			headers["References"] = "<" + strings.Join(refs, "> <") + ">"
		}
		w.MessageID, err = enqueueComposedTx(ctx, t, helpdesk.OutboundMail{
			DedupKey:  "reply:" + strconv.FormatInt(w.ThreadID, 10),
			Kind:      "reply",
			MailboxID: rc.MailboxID,
			ThreadID:  w.ThreadID,
			From:      rc.MailboxEmail,
			To:        []string{rc.CustomerEmail},
			Cc:        cc,
			Bcc:       bcc,
			Subject:   subject,
			BodyText:  body,
			BodyHTML:  html,
			Headers:   headers,
		}, outboxFiles{threadID: w.ThreadID})
		if err != nil {
			var ve *helpdesk.ValidationError
			if errors.As(err, &ve) {
				// The stored conversation cannot be answered by mail (e.g. a
				// customer address that is not one plain address).
				return &helpdesk.ValidationError{Fields: map[string]string{"conversation": "cannot be answered by mail: " + ve.Error()}}
			}
			return err
		}
		if _, err := t.exec(ctx, q.SetThreadMessageID, w.MessageID, w.ThreadID); err != nil {
			return fmt.Errorf("set reply message id: %w", err)
		}
		if err := indexThread(ctx, t, convID, body); err != nil {
			return err
		}
		if err := setStatusTx(ctx, t, v, cv, convID, status); err != nil {
			return err
		}
		if _, err := t.exec(ctx, q.RecordReply, cv.next(), v.UserID, cv.next(), now(), convID); err != nil {
			return fmt.Errorf("update conversation %d: %w", convID, err)
		}
		if err := deleteDraftTx(ctx, t, v.UserID, convID); err != nil {
			return err
		}
		agentThreadEvents(t, mailboxID, convID, w.ThreadID)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reply to conversation %d: %w", convID, err)
	}
	return w, nil
}

// checkReply checks what the agent wrote, all fields at once: the text,
// the status to set and the copies. (The size of files is the caller's
// to limit: how much an upload may carry is a setting of the web.)
func checkReply(r helpdesk.NewReply) (body string, cc, bcc []string, err error) {
	fields := map[string]string{}
	note := func(err error) {
		var ve *helpdesk.ValidationError
		if errors.As(err, &ve) {
			for k, v := range ve.Fields {
				fields[k] = v
			}
		}
	}
	body, err = helpdesk.ValidateBody(r.Body)
	note(err)
	if status := r.Status; status != "" && !helpdesk.ValidStatus(status) {
		fields["status"] = "must be one of " + strings.Join(helpdesk.Statuses, ", ")
	}
	cc, err = helpdesk.CheckRecipients("cc", r.Cc)
	note(err)
	bcc, err = helpdesk.CheckRecipients("bcc", r.Bcc)
	note(err)
	if len(fields) > 0 {
		return "", nil, nil, &helpdesk.ValidationError{Fields: fields}
	}
	return body, cc, bcc, nil
}

// AddNote adds an internal note: a thread that is never mailed. Like a
// reply, it is refused when a customer message or another agent's reply
// arrived since version seen (0: not given).
func (s *Store) AddNote(ctx context.Context, v helpdesk.Viewer, convID int64, body string, seen int64) (*helpdesk.Written, error) {
	body, err := helpdesk.ValidateBody(body)
	if err != nil {
		return nil, err
	}
	w := &helpdesk.Written{ConversationID: convID}
	err = s.inTx(ctx, func(t *tx) error {
		mailboxID, err := checkAccessTx(ctx, t, v, convID)
		if err != nil {
			return err
		}
		cv, err := versionsTx(ctx, t, convID)
		if err != nil {
			return err
		}
		if err := cv.staleness(seen, cv.messagesChange(v.UserID)...); err != nil {
			return err
		}
		w.ThreadID, err = s.writeNoteTx(ctx, t, v, mailboxID, convID, cv, body)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("note on conversation %d: %w", convID, err)
	}
	return w, nil
}

// writeNoteTx adds the viewer's note to a conversation: the thread, its
// words in the search index, the conversation's new version and the
// events. It returns the note's thread id.
func (s *Store) writeNoteTx(ctx context.Context, t *tx, v helpdesk.Viewer, mailboxID, convID int64, cv *conversationVersions, body string) (int64, error) {
	author, err := authorTx(ctx, t, v.UserID)
	if err != nil {
		return 0, err
	}
	var threadID int64
	if err := t.get(ctx, &threadID, s.convQ.InsertNote,
		convID, author.Email, author.Name, body, v.UserID, now()); err != nil {
		return 0, fmt.Errorf("insert note: %w", err)
	}
	if err := indexThread(ctx, t, convID, body); err != nil {
		return 0, err
	}
	if _, err := t.exec(ctx, s.convQ.RecordNote, cv.next(), now(), convID); err != nil {
		return 0, fmt.Errorf("update conversation %d: %w", convID, err)
	}
	agentThreadEvents(t, mailboxID, convID, threadID)
	return threadID, nil
}

type author struct {
	Name  string `db:"name"`
	Email string `db:"email"`
}

func authorTx(ctx context.Context, t *tx, userID int64) (author, error) {
	var a author
	err := t.get(ctx, &a, t.store.convQ.Author, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("user %d: %w", userID, helpdesk.ErrForbidden)
	}
	if err != nil {
		return a, fmt.Errorf("read user %d: %w", userID, err)
	}
	return a, nil
}

// referencesTx returns the Message-ID to answer (the newest customer
// message's) and the References chain of a reply: the conversation's
// Message-IDs oldest first, capped to the first and the newest ones.
func referencesTx(ctx context.Context, t *tx, convID int64) (inReplyTo string, refs []string, err error) {
	var rows []struct {
		Kind      string `db:"kind"`
		MessageID string `db:"message_id"`
	}
	if err := t.sel(ctx, &rows, t.store.convQ.ConversationMessageIDs, convID); err != nil {
		return "", nil, fmt.Errorf("read message ids of conversation %d: %w", convID, err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if !helpdesk.UsableMessageID(r.MessageID) || seen[r.MessageID] {
			continue
		}
		seen[r.MessageID] = true
		refs = append(refs, r.MessageID)
		if r.Kind == "customer" {
			inReplyTo = r.MessageID
		}
	}
	if len(refs) > helpdesk.MaxReferences {
		refs = append(refs[:1], refs[len(refs)-helpdesk.MaxReferences+1:]...)
	}
	return inReplyTo, refs, nil
}

// agentThreadEvents are the live events of an agent's new reply or note.
func agentThreadEvents(t *tx, mailboxID, convID, threadID int64) {
	t.addEvent(helpdesk.EventConversationUpdated, mailboxID, convID, 0)
	t.addEvent(helpdesk.EventThreadCreated, mailboxID, convID, threadID)
}
