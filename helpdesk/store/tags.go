package store

import (
	"context"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// AddTag tags a conversation. The tag row is upserted, so two concurrent
// first uses of a new tag both succeed and leave one row; tagging twice is
// a no-op.
func (s *Store) AddTag(ctx context.Context, v helpdesk.Viewer, convID int64, name string) error {
	name, err := helpdesk.NormalizeTag(name)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(t *tx) error {
		mailboxID, err := checkAccessTx(ctx, t, v, convID)
		if err != nil {
			return err
		}
		tagID, err := upsertTag(ctx, t, name)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, s.convQ.TagConversation, convID, tagID); err != nil {
			return fmt.Errorf("tag conversation %d: %w", convID, err)
		}
		t.addEvent(helpdesk.EventConversationUpdated, mailboxID, convID, 0)
		return nil
	})
}

// upsertTag returns the id of the tag, creating it if needed. The insert
// waits for a concurrent insert of the same name to commit; the SELECT
// after it (a new statement, a new snapshot) then sees that row.
func upsertTag(ctx context.Context, t *tx, name string) (int64, error) {
	if _, err := t.exec(ctx, t.store.convQ.InsertTag, name); err != nil {
		return 0, fmt.Errorf("upsert tag %q: %w", name, err)
	}
	var id int64
	if err := t.get(ctx, &id, t.store.convQ.TagID, name); err != nil {
		return 0, fmt.Errorf("read tag %q: %w", name, err)
	}
	return id, nil
}

// RemoveTag untags a conversation; removing a tag it does not have is a
// no-op. The tag row stays for other conversations.
func (s *Store) RemoveTag(ctx context.Context, v helpdesk.Viewer, convID int64, name string) error {
	name, err := helpdesk.NormalizeTag(name)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(t *tx) error {
		mailboxID, err := checkAccessTx(ctx, t, v, convID)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, s.convQ.UntagConversation, convID, name); err != nil {
			return fmt.Errorf("untag conversation %d: %w", convID, err)
		}
		t.addEvent(helpdesk.EventConversationUpdated, mailboxID, convID, 0)
		return nil
	})
}

// Tags lists every tag name in use, sorted.
func (s *Store) Tags(ctx context.Context) ([]string, error) {
	var names []string
	if err := s.convQ.Tags.SelectContext(ctx, &names); err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	return names, nil
}
