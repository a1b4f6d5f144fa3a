package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// outboxFiles says which stored attachments an agent's mail carries. The
// outbox row refers to them (attachments never change), so every attempt
// to send it, a resend after a crash too, sends the same bytes.
type outboxFiles struct {
	threadID       int64 // a reply: the files stored on its own thread
	conversationID int64 // a forward: the files of the conversation's mail
}

// enqueueComposedTx enqueues an agent's mail (a reply, a forward) in the
// caller's transaction: enqueueTx, then its copies, its HTML alternative
// and its attachments. It returns the Message-ID.
func enqueueComposedTx(ctx context.Context, t *tx, m helpdesk.OutboundMail, files outboxFiles) (string, error) {
	messageID, err := enqueueTx(ctx, t, m)
	if err != nil {
		return "", err
	}
	q := &t.store.outboxQ
	var id int64
	err = t.get(ctx, &id, q.ComposeOutbox, strings.Join(m.Cc, ", "), strings.Join(m.Bcc, ", "), m.BodyHTML, messageID)
	if err != nil {
		return "", fmt.Errorf("compose outbox %s: %w", m.DedupKey, err)
	}
	switch {
	case files.threadID != 0:
		_, err = t.exec(ctx, q.AttachThreadFiles, id, files.threadID)
	case files.conversationID != 0:
		_, err = t.exec(ctx, q.AttachConversationFiles, id, files.conversationID)
	default:
		return messageID, nil
	}
	if err != nil {
		return "", fmt.Errorf("attach files to outbox %d: %w", id, err)
	}
	if _, err := t.exec(ctx, q.CountOutboxFiles, id, id); err != nil {
		return "", fmt.Errorf("count files of outbox %d: %w", id, err)
	}
	return messageID, nil
}

// OutboxAttachments reads the files of an outbox row for sending.
func (s *Store) OutboxAttachments(ctx context.Context, outboxID int64) ([]helpdesk.MailAttachment, error) {
	var files []helpdesk.MailAttachment
	if err := s.outboxQ.OutboxAttachments.SelectContext(ctx, &files, outboxID); err != nil {
		return nil, fmt.Errorf("read files of outbox %d: %w", outboxID, err)
	}
	return files, nil
}
