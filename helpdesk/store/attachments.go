package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/helpdesk/helpdesk/helpdesk"
)

const attachmentInfoColumns = `id, thread_id, filename, content_type, content_id, inline, size`

// Attachment returns an attachment of one of the viewer's conversations,
// or ErrNotFound.
func (s *Store) Attachment(ctx context.Context, v helpdesk.Viewer, id int64) (*helpdesk.StoredAttachment, error) {
	access, args := accessClause(v)
	var a helpdesk.StoredAttachment
	err := s.db.GetContext(ctx, &a, s.db.Rebind(`SELECT a.id, a.thread_id, a.filename, a.content_type, a.content_id,
		a.inline, a.size, a.data
		FROM attachments a JOIN threads t ON t.id = a.thread_id JOIN conversations c ON c.id = t.conversation_id
		WHERE a.id = ? AND `+access), append([]any{id}, args...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("attachment %d: %w", id, helpdesk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get attachment %d: %w", id, err)
	}
	return &a, nil
}

// InlineAttachment returns the part a thread's HTML refers to as
// "cid:contentID", or ErrNotFound. Only parts of that same thread are
// found, so one message cannot embed another's files.
func (s *Store) InlineAttachment(ctx context.Context, v helpdesk.Viewer, threadID int64, contentID string) (*helpdesk.StoredAttachment, error) {
	contentID = strings.Trim(strings.TrimSpace(contentID), "<>")
	if contentID == "" {
		return nil, fmt.Errorf("inline attachment: %w", helpdesk.ErrNotFound)
	}
	access, args := accessClause(v)
	var a helpdesk.StoredAttachment
	err := s.db.GetContext(ctx, &a, s.db.Rebind(`SELECT a.id, a.thread_id, a.filename, a.content_type, a.content_id,
		a.inline, a.size, a.data
		FROM attachments a JOIN threads t ON t.id = a.thread_id JOIN conversations c ON c.id = t.conversation_id
		WHERE a.thread_id = ? AND a.content_id = ? AND `+access+` ORDER BY a.id LIMIT 1`),
		append([]any{threadID, contentID}, args...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("inline attachment %q of thread %d: %w", contentID, threadID, helpdesk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get inline attachment %q of thread %d: %w", contentID, threadID, err)
	}
	return &a, nil
}
