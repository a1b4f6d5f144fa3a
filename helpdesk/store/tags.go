package store

import (
	"context"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/jmoiron/sqlx"
)

// AddTag tags a conversation. The tag row is upserted, so two concurrent
// first uses of a new tag both succeed and leave one row; tagging twice is
// a no-op.
func (s *Store) AddTag(ctx context.Context, v helpdesk.Viewer, convID int64, name string) error {
	name, err := helpdesk.NormalizeTag(name)
	if err != nil {
		return err
	}
	return s.inSQLTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := checkAccessTx(ctx, tx, v, convID); err != nil {
			return err
		}
		tagID, err := upsertTag(ctx, tx, name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO conversation_tags (conversation_id, tag_id) VALUES (?, ?)
			ON CONFLICT DO NOTHING`), convID, tagID); err != nil {
			return fmt.Errorf("tag conversation %d: %w", convID, err)
		}
		return nil
	})
}

// upsertTag returns the id of the tag, creating it if needed. ON CONFLICT
// DO NOTHING waits for a concurrent insert of the same name to commit; the
// SELECT after it (a new statement, a new snapshot) then sees that row.
func upsertTag(ctx context.Context, tx *sqlx.Tx, name string) (int64, error) {
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO tags (name) VALUES (?) ON CONFLICT (name) DO NOTHING`), name); err != nil {
		return 0, fmt.Errorf("upsert tag %q: %w", name, err)
	}
	var id int64
	if err := tx.GetContext(ctx, &id, tx.Rebind(`SELECT id FROM tags WHERE name = ?`), name); err != nil {
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
	return s.inSQLTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := checkAccessTx(ctx, tx, v, convID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM conversation_tags
			WHERE conversation_id = ? AND tag_id IN (SELECT id FROM tags WHERE name = ?)`), convID, name); err != nil {
			return fmt.Errorf("untag conversation %d: %w", convID, err)
		}
		return nil
	})
}

// Tags lists every tag name in use, sorted.
func (s *Store) Tags(ctx context.Context) ([]string, error) {
	var names []string
	if err := s.db.SelectContext(ctx, &names, `SELECT name FROM tags ORDER BY name`); err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	return names, nil
}
