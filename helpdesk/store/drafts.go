package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Draft is the viewer's unsent reply in a conversation; "" when none.
func (s *Store) Draft(ctx context.Context, v helpdesk.Viewer, convID int64) (string, error) {
	var body string
	err := s.composerQ.Draft.GetContext(ctx, &body, v.UserID, convID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read draft of conversation %d: %w", convID, err)
	}
	return body, nil
}

// SaveDraft keeps the viewer's unsent reply in a conversation they may
// see, in place of the one before; an empty (blank) body deletes it. A
// save made on a page older than the viewer's last reply (seen: the
// version the page showed; 0 when not known) changes nothing: it was on
// its way while that reply was sent, and would bring back the sent text.
func (s *Store) SaveDraft(ctx context.Context, v helpdesk.Viewer, convID int64, body string, seen int64) error {
	if err := helpdesk.ValidateDraft(body); err != nil {
		return err
	}
	return s.inTx(ctx, func(t *tx) error {
		if _, err := checkAccessTx(ctx, t, v, convID); err != nil {
			return err
		}
		cv, err := versionsTx(ctx, t, convID) // on PostgreSQL, after or before a reply, not beside it
		if err != nil {
			return err
		}
		if seen > 0 && cv.ThreadV > seen && cv.ThreadBy != nil && *cv.ThreadBy == v.UserID {
			return nil
		}
		if strings.TrimSpace(body) == "" {
			return deleteDraftTx(ctx, t, v.UserID, convID)
		}
		if _, err := t.exec(ctx, s.composerQ.SaveDraft, v.UserID, convID, body, now()); err != nil {
			return fmt.Errorf("save draft of conversation %d: %w", convID, err)
		}
		return nil
	})
}

// deleteDraftTx removes a user's draft in a conversation: the reply was
// sent.
func deleteDraftTx(ctx context.Context, t *tx, userID, convID int64) error {
	if _, err := t.exec(ctx, t.store.composerQ.DeleteDraft, userID, convID); err != nil {
		return fmt.Errorf("delete draft of conversation %d: %w", convID, err)
	}
	return nil
}

// mergeDraftsTx gives each agent's draft in fromID to intoID, the merge's
// target: moved when they have none there, else after the one there,
// separated by a blank line.
func mergeDraftsTx(ctx context.Context, t *tx, fromID, intoID int64) error {
	q := &t.store.composerQ
	if _, err := t.exec(ctx, q.AppendDrafts, "\n\n", fromID, now(), intoID, fromID); err != nil {
		return fmt.Errorf("append drafts of conversation %d: %w", fromID, err)
	}
	if _, err := t.exec(ctx, q.MoveDrafts, intoID, fromID, intoID); err != nil {
		return fmt.Errorf("move drafts of conversation %d: %w", fromID, err)
	}
	if _, err := t.exec(ctx, q.DropDrafts, fromID); err != nil {
		return fmt.Errorf("drop drafts of conversation %d: %w", fromID, err)
	}
	return nil
}
