package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Quarantine adds a message that cannot be ingested to the batch.
func (b *IngestBatch) Quarantine(ctx context.Context, src helpdesk.MessageSource, raw []byte, size int64, complete bool, reason string) error {
	return quarantineTx(ctx, b.t, src, raw, size, complete, reason, nil)
}

// QuarantineUnparsable adds to the batch a message that no parser can read:
// it is quarantined, and shown to agents as a conversation of its own whose
// one thread shows what could be salvaged from it (the sender, if one was
// found, and its raw text). A retry that parses it puts the message in that
// thread's place (ingestTx); one that does not shows a message quarantined
// before agents were shown such messages.
func (b *IngestBatch) QuarantineUnparsable(ctx context.Context, src helpdesk.MessageSource, shown *helpdesk.IncomingMessage, size int64, reason string) error {
	cleanText(shown)
	return quarantineTx(ctx, b.t, src, shown.Raw, size, true, reason, shown)
}

// quarantineTx quarantines a message; with shown, agents see it as a
// conversation too.
func quarantineTx(ctx context.Context, t *tx, src helpdesk.MessageSource, raw []byte, size int64, complete bool, reason string, shown *helpdesk.IncomingMessage) error {
	if src.QuarantineID != 0 {
		if err := holdQuarantine(ctx, t, src.QuarantineID, reason); err != nil || shown == nil {
			return err
		}
		return showQuarantined(ctx, t, src, shown)
	}
	if prior, err := priorLedger(ctx, t, src, ""); err != nil || prior.seen {
		return err
	}
	rawID, err := storeRaw(ctx, t, raw, nil)
	if err != nil {
		return err
	}
	var threadID any // NULL: not shown to agents
	if shown != nil {
		if threadID, err = insertUnreadableConversation(ctx, t, src.MailboxID, rawID, shown); err != nil {
			return err
		}
	}
	at := now()
	t.collect(insertQuarantine, src.MailboxID, src.Folder, src.UIDValidity, src.UID, helpdesk.Truncate(reason, 2000),
		size, complete, rawID, threadID, "held", at, at)
	writeLedger(t, src, fmt.Sprintf("quarantine:%d:%d", src.UIDValidity, src.UID), helpdesk.OutcomeQuarantined, 0)
	return nil
}

// insertUnreadableConversation starts the conversation that shows an
// unparsable message to agents and returns its thread. Nobody is notified
// and nothing is sent: nothing tells a person from a bounce or a loop until
// the message can be read.
func insertUnreadableConversation(ctx context.Context, t *tx, mailboxID, rawID int64, shown *helpdesk.IncomingMessage) (int64, error) {
	customerID, err := customer(ctx, t, shown.Sender())
	if err != nil {
		return 0, err
	}
	conv, err := insertConversation(ctx, t, mailboxID, customerID, shown)
	if err != nil {
		return 0, err
	}
	threadID, err := insertCustomerThread(ctx, t, conv.ID, rawID, shown)
	if err != nil {
		return 0, err
	}
	if err := indexMessage(ctx, t, conv, shown); err != nil {
		return 0, err
	}
	addIngestEvents(t, mailboxID, conv, threadID)
	return threadID, nil
}

// replaceUnreadable puts a retried message that now parses in the place of
// the thread that showed it unparsed: the same conversation, no second one.
// The conversation takes the message's sender and subject; the raw kept in
// quarantine is the thread's raw already.
func replaceUnreadable(ctx context.Context, t *tx, threadID int64, msg *helpdesk.IncomingMessage) (threadedConversation, error) {
	var conv threadedConversation
	customerID, err := customer(ctx, t, msg.Sender())
	if err != nil {
		return conv, err
	}
	if err := t.flush(ctx); err != nil { // the rows the updates may find
		return conv, err
	}
	sender := msg.Sender()
	_, err = t.exec(ctx, t.q().ReplaceUnreadable, msg.MessageID, msg.InReplyTo, sender.Email,
		helpdesk.Truncate(sender.Name, 200), joinAddresses(msg.To), joinAddresses(msg.Cc), msg.Subject,
		msg.Text, msg.HTML, msg.AutoReply, threadID)
	if err != nil {
		return conv, fmt.Errorf("replace unreadable thread %d: %w", threadID, err)
	}
	if _, err := t.exec(ctx, t.q().ForgetSanitizedHTML, threadID); err != nil {
		return conv, fmt.Errorf("forget sanitised HTML of thread %d: %w", threadID, err)
	}
	err = t.get(ctx, &conv, t.q().ReplaceUnreadableConversation,
		customerID, subjectOrDefault(msg.Subject), preview(msg.Text), now(), threadID)
	if err != nil {
		return conv, fmt.Errorf("replace unreadable conversation of thread %d: %w", threadID, err)
	}
	for _, a := range msg.Attachments {
		t.collect(insertAttachment, threadID, a.Filename, a.ContentType, a.ContentID, a.Inline, int64(len(a.Data)), a.Data)
	}
	// Announced now, as a new conversation: nobody was told of it unread.
	conv.created = true
	return conv, nil
}

// showQuarantined shows a retried message that is still unparsable to
// agents, unless they see it already.
func showQuarantined(ctx context.Context, t *tx, src helpdesk.MessageSource, shown *helpdesk.IncomingMessage) error {
	q, err := quarantineThread(ctx, t, src.QuarantineID)
	if err != nil || q.ThreadID.Valid {
		return err
	}
	threadID, err := insertUnreadableConversation(ctx, t, src.MailboxID, q.RawID, shown)
	if err != nil {
		return err
	}
	if err := t.flush(ctx); err != nil { // the thread it points to
		return err
	}
	if _, err := t.exec(ctx, t.q().ShowQuarantined, threadID, src.QuarantineID); err != nil {
		return fmt.Errorf("show quarantined message %d: %w", src.QuarantineID, err)
	}
	return nil
}

// quarantinedThread is where a quarantined message is kept and shown.
type quarantinedThread struct {
	ThreadID sql.NullInt64 `db:"thread_id"` // NULL: not shown to agents
	RawID    int64         `db:"raw_id"`
}

func quarantineThread(ctx context.Context, t *tx, id int64) (quarantinedThread, error) {
	var q quarantinedThread
	if err := t.get(ctx, &q, t.q().QuarantineThread, id); err != nil {
		return q, fmt.Errorf("read quarantined message %d: %w", id, err)
	}
	return q, nil
}

func holdQuarantine(ctx context.Context, t *tx, id int64, reason string) error {
	_, err := t.exec(ctx, t.q().HoldQuarantine,
		helpdesk.Truncate(reason, 2000), now(), id)
	if err != nil {
		return fmt.Errorf("hold quarantined message %d: %w", id, err)
	}
	return nil
}

func resolveQuarantine(ctx context.Context, t *tx, id, threadID int64) error {
	if err := t.flush(ctx); err != nil { // the thread it points to
		return err
	}
	_, err := t.exec(ctx, t.q().ResolveQuarantine,
		threadID, now(), id)
	if err != nil {
		return fmt.Errorf("resolve quarantined message %d: %w", id, err)
	}
	return nil
}

// Quarantined lists held and retrying messages; mailboxID 0 means all.
func (s *Store) Quarantined(ctx context.Context, mailboxID int64) ([]helpdesk.QuarantinedMessage, error) {
	var qs []helpdesk.QuarantinedMessage
	err := s.fetchQ.Quarantined.SelectContext(ctx, &qs, mailboxID, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return qs, nil
}

// RetryQuarantined asks the fetch service to try a quarantined message
// again on the mailbox's next run, and requests that run: a watched
// mailbox where no mail comes has no other.
func (s *Store) RetryQuarantined(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, t.q().RetryQuarantined, now(), id)
		if err != nil {
			return fmt.Errorf("retry quarantined message %d: %w", id, err)
		}
		if err := expectOneRow(res); err != nil {
			return err
		}
		var mailboxID int64
		if err := t.get(ctx, &mailboxID, t.q().QuarantinedMailbox, id); err != nil {
			return fmt.Errorf("read quarantined message %d: %w", id, err)
		}
		return t.requestFetch(ctx, mailboxID, "quarantine retry")
	})
}
