package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// AddTag tags a conversation. The tag row is upserted, so two concurrent
// first uses of a new tag both succeed and leave one row; tagging twice is
// a no-op. It is refused when the tags changed since version seen (0: not
// given).
func (s *Store) AddTag(ctx context.Context, v helpdesk.Viewer, convID int64, name string, seen int64) error {
	name, err := helpdesk.NormalizeTag(name)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(t *tx) error {
		mailboxID, cv, err := tagAccessTx(ctx, t, v, convID, seen)
		if err != nil {
			return err
		}
		tagID, err := upsertTag(ctx, t, name)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, s.convQ.TagConversation, convID, tagID)
		if err != nil {
			return fmt.Errorf("tag conversation %d: %w", convID, err)
		}
		return recordTagsTx(ctx, t, v, cv, mailboxID, convID, res)
	})
}

// tagAccessTx checks that the viewer may change the tags of a
// conversation and that they did not change since version seen.
func tagAccessTx(ctx context.Context, t *tx, v helpdesk.Viewer, convID, seen int64) (mailboxID int64, cv *conversationVersions, err error) {
	if mailboxID, err = checkAccessTx(ctx, t, v, convID); err != nil {
		return 0, nil, err
	}
	if cv, err = versionsTx(ctx, t, convID); err != nil {
		return 0, nil, err
	}
	return mailboxID, cv, cv.staleness(seen, cv.tagsChange())
}

// recordTagsTx makes a change of the tags a new version; tagging twice
// or removing a missing tag changed nothing.
func recordTagsTx(ctx context.Context, t *tx, v helpdesk.Viewer, cv *conversationVersions, mailboxID, convID int64, res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("change tags of conversation %d: %w", convID, err)
	}
	if n == 0 {
		return nil
	}
	if _, err := t.exec(ctx, t.store.convQ.RecordTags, cv.next(), v.UserID, cv.next(), now(), convID); err != nil {
		return fmt.Errorf("update conversation %d: %w", convID, err)
	}
	t.addEvent(helpdesk.EventConversationUpdated, mailboxID, convID, 0)
	return nil
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
// no-op. The tag row stays for other conversations. It is refused when
// the tags changed since version seen (0: not given).
func (s *Store) RemoveTag(ctx context.Context, v helpdesk.Viewer, convID int64, name string, seen int64) error {
	name, err := helpdesk.NormalizeTag(name)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(t *tx) error {
		mailboxID, cv, err := tagAccessTx(ctx, t, v, convID, seen)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, s.convQ.UntagConversation, convID, name)
		if err != nil {
			return fmt.Errorf("untag conversation %d: %w", convID, err)
		}
		return recordTagsTx(ctx, t, v, cv, mailboxID, convID, res)
	})
}

// Tags lists the tag names the viewer may see, sorted: an agent only
// those on conversations of the mailboxes they work on.
func (s *Store) Tags(ctx context.Context, v helpdesk.Viewer) ([]string, error) {
	var names []string
	if err := s.convQ.Tags.SelectContext(ctx, &names, viewerArgs(v)...); err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	return names, nil
}
