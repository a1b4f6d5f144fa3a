package helpdesk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

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

const attachmentInfoColumns = `id, thread_id, filename, content_type, content_id, inline, size`

// Attachment returns an attachment of one of the viewer's conversations,
// or ErrNotFound.
func (s *Store) Attachment(ctx context.Context, v Viewer, id int64) (*StoredAttachment, error) {
	access, args := v.accessClause()
	var a StoredAttachment
	err := s.db.GetContext(ctx, &a, s.db.Rebind(`SELECT a.id, a.thread_id, a.filename, a.content_type, a.content_id,
		a.inline, a.size, a.data
		FROM attachments a JOIN threads t ON t.id = a.thread_id JOIN conversations c ON c.id = t.conversation_id
		WHERE a.id = ? AND `+access), append([]any{id}, args...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("attachment %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get attachment %d: %w", id, err)
	}
	return &a, nil
}

// InlineAttachment returns the part a thread's HTML refers to as
// "cid:contentID", or ErrNotFound. Only parts of that same thread are
// found, so one message cannot embed another's files.
func (s *Store) InlineAttachment(ctx context.Context, v Viewer, threadID int64, contentID string) (*StoredAttachment, error) {
	contentID = strings.Trim(strings.TrimSpace(contentID), "<>")
	if contentID == "" {
		return nil, fmt.Errorf("inline attachment: %w", ErrNotFound)
	}
	access, args := v.accessClause()
	var a StoredAttachment
	err := s.db.GetContext(ctx, &a, s.db.Rebind(`SELECT a.id, a.thread_id, a.filename, a.content_type, a.content_id,
		a.inline, a.size, a.data
		FROM attachments a JOIN threads t ON t.id = a.thread_id JOIN conversations c ON c.id = t.conversation_id
		WHERE a.thread_id = ? AND a.content_id = ? AND `+access+` ORDER BY a.id LIMIT 1`),
		append([]any{threadID, contentID}, args...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("inline attachment %q of thread %d: %w", contentID, threadID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get inline attachment %q of thread %d: %w", contentID, threadID, err)
	}
	return &a, nil
}
