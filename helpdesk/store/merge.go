package store

import (
	"context"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// MergeConversation moves the threads, participants, tags and agents'
// drafts (mergeDraftsTx) of conversation fromID into intoID (and so its
// words in the search index), in one transaction; fromID keeps its row,
// pointing at intoID (merged_into). Both must be conversations the viewer
// may change (else ErrNotFound) of the same mailbox (else a
// ValidationError): a mailbox's agents answer from its address. The merge
// is a new version of both. It is refused (*helpdesk.StaleError) when
// fromID's status, assignee, tags or messages changed since version seen
// (0: not given): the agent merges what they saw.
func (s *Store) MergeConversation(ctx context.Context, v helpdesk.Viewer, fromID, intoID, seen int64) error {
	if fromID == intoID {
		return &helpdesk.ValidationError{Fields: map[string]string{"into": "must be another conversation"}}
	}
	return s.inTx(ctx, func(t *tx) error {
		from, into, err := mergePairTx(ctx, t, v, fromID, intoID)
		if err != nil {
			return err
		}
		cv := from.cv
		changes := append([]helpdesk.Change{cv.statusChange(), cv.assigneeChange(), cv.tagsChange()}, cv.messagesChange(v.UserID)...)
		if err := cv.staleness(seen, changes...); err != nil {
			return err
		}
		if from.mailboxID != into.mailboxID {
			return &helpdesk.ValidationError{Fields: map[string]string{"into": "must be a conversation of the same mailbox"}}
		}
		tagsMoved, err := moveMergedRowsTx(ctx, t, fromID, intoID)
		if err != nil {
			return err
		}
		if err := mergeDraftsTx(ctx, t, fromID, intoID); err != nil {
			return err
		}
		if err := recordMergeTx(ctx, t, v, from, into, tagsMoved); err != nil {
			return err
		}
		if err := reindexConversation(ctx, t, intoID); err != nil {
			return err
		}
		t.addEvent(helpdesk.EventConversationUpdated, from.mailboxID, fromID, 0)
		t.addEvent(helpdesk.EventConversationUpdated, into.mailboxID, intoID, 0)
		return nil
	})
}

// mergeSide is one conversation of a merge, locked for its transaction.
type mergeSide struct {
	id        int64
	mailboxID int64
	cv        *conversationVersions
}

// mergePairTx checks access to both conversations and reads their
// versions, the lower id first, so that two merges of the same pair
// cannot lock each other out on PostgreSQL.
func mergePairTx(ctx context.Context, t *tx, v helpdesk.Viewer, fromID, intoID int64) (from, into *mergeSide, err error) {
	from, into = &mergeSide{id: fromID}, &mergeSide{id: intoID}
	first, second := from, into
	if intoID < fromID {
		first, second = into, from
	}
	for _, side := range []*mergeSide{first, second} {
		if side.mailboxID, err = checkAccessTx(ctx, t, v, side.id); err != nil {
			return nil, nil, err
		}
		if side.cv, err = versionsTx(ctx, t, side.id); err != nil {
			return nil, nil, err
		}
	}
	return from, into, nil
}

// moveMergedRowsTx moves threads, participants and tags, and re-points
// the conversations merged into fromID. It reports whether intoID got a
// tag it did not have.
func moveMergedRowsTx(ctx context.Context, t *tx, fromID, intoID int64) (tagsMoved bool, err error) {
	q := &t.store.convQ
	if _, err := t.exec(ctx, q.MergeThreads, intoID, fromID); err != nil {
		return false, fmt.Errorf("move threads of conversation %d: %w", fromID, err)
	}
	if _, err := t.exec(ctx, q.MergeParticipants, intoID, fromID); err != nil {
		return false, fmt.Errorf("move participants of conversation %d: %w", fromID, err)
	}
	if _, err := t.exec(ctx, q.DropParticipants, fromID); err != nil {
		return false, fmt.Errorf("move participants of conversation %d: %w", fromID, err)
	}
	res, err := t.exec(ctx, q.MergeTags, intoID, fromID)
	if err != nil {
		return false, fmt.Errorf("move tags of conversation %d: %w", fromID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("move tags of conversation %d: %w", fromID, err)
	}
	if _, err := t.exec(ctx, q.DropTags, fromID); err != nil {
		return false, fmt.Errorf("move tags of conversation %d: %w", fromID, err)
	}
	if _, err := t.exec(ctx, q.RepointMerged, intoID, fromID); err != nil {
		return false, fmt.Errorf("re-point conversations merged into %d: %w", fromID, err)
	}
	return n > 0, nil
}

// recordMergeTx writes the new version of both conversations: the target
// has new messages (and tags, when some moved) by the viewer and the
// newest message of both; the source points at the target.
func recordMergeTx(ctx context.Context, t *tx, v helpdesk.Viewer, from, into *mergeSide, tagsMoved bool) error {
	q := &t.store.convQ
	at := now()
	newest := into.cv
	if from.cv.LastMessageAt.After(newest.LastMessageAt) {
		newest = from.cv
	}
	tagsV, tagsBy := into.cv.TagsV, into.cv.TagsBy
	if tagsMoved {
		tagsV, tagsBy = into.cv.next(), &v.UserID
	}
	if _, err := t.exec(ctx, q.RecordMergeInto, newest.LastMessageAt, newest.Preview, into.cv.next(), v.UserID,
		tagsV, tagsBy, into.cv.next(), at, into.id); err != nil {
		return fmt.Errorf("update conversation %d: %w", into.id, err)
	}
	if _, err := t.exec(ctx, q.RecordMergeUnread, from.id, into.cv.next(), into.id); err != nil {
		return fmt.Errorf("update conversation %d: %w", into.id, err)
	}
	if _, err := t.exec(ctx, q.RecordMerged, into.id, from.cv.next(), at, from.id); err != nil {
		return fmt.Errorf("update conversation %d: %w", from.id, err)
	}
	return nil
}
