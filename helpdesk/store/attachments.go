package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Attachment returns an attachment of one of the viewer's conversations,
// or ErrNotFound.
func (s *Store) Attachment(ctx context.Context, v helpdesk.Viewer, id int64) (*helpdesk.StoredAttachment, error) {
	var a helpdesk.StoredAttachment
	err := s.convQ.Attachment.GetContext(ctx, &a, append([]any{id}, viewerArgs(v)...)...)
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
	var a helpdesk.StoredAttachment
	err := s.convQ.InlineAttachment.GetContext(ctx, &a, append([]any{threadID, contentID}, viewerArgs(v)...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("inline attachment %q of thread %d: %w", contentID, threadID, helpdesk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get inline attachment %q of thread %d: %w", contentID, threadID, err)
	}
	return &a, nil
}
