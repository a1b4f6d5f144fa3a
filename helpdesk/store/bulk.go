package store

import (
	"context"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Bulk applies one action to several conversations, each as its own
// change (its own transaction, version check and events), as the single
// actions do; one conversation's failure does not stop the others. The
// results are in the order of b.IDs, without repeats.
func (s *Store) Bulk(ctx context.Context, v helpdesk.Viewer, b helpdesk.BulkChange) ([]helpdesk.BulkResult, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	done := make(map[int64]bool, len(b.IDs))
	results := make([]helpdesk.BulkResult, 0, len(b.IDs))
	for _, id := range b.IDs {
		if done[id] {
			continue
		}
		done[id] = true
		results = append(results, helpdesk.BulkResult{ID: id, Err: s.bulkOne(ctx, v, &b, id)})
	}
	return results, nil
}

func (s *Store) bulkOne(ctx context.Context, v helpdesk.Viewer, b *helpdesk.BulkChange, id int64) error {
	seen := b.Seen[id]
	switch b.Action {
	case helpdesk.BulkAssign:
		assignee := b.AssigneeID
		return s.UpdateConversation(ctx, v, id, helpdesk.ConversationChange{AssigneeID: &assignee, Seen: seen})
	case helpdesk.BulkStatus:
		status := b.Status
		return s.UpdateConversation(ctx, v, id, helpdesk.ConversationChange{Status: &status, Seen: seen})
	case helpdesk.BulkTag:
		return s.AddTag(ctx, v, id, b.Tag, seen)
	case helpdesk.BulkMerge:
		if id == b.Into {
			return nil // the one the others go into
		}
		return s.MergeConversation(ctx, v, id, b.Into, seen)
	case helpdesk.BulkRead, helpdesk.BulkUnread:
		return s.SetRead(ctx, v, id, b.Action == helpdesk.BulkRead) // the viewer's own: no version
	}
	return nil // Validate refused any other action
}
