package store

import (
	"context"
	"fmt"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// conversationVersions is a conversation's version, the version at which
// each field last changed and who changed it (nil: the customer's mail).
type conversationVersions struct {
	Version        int64     `db:"version"`
	Status         string    `db:"status"`
	AssigneeID     *int64    `db:"assignee_id"`
	LastMessageAt  time.Time `db:"last_message_at"`
	Preview        string    `db:"preview"`
	StatusV        int64     `db:"status_v"`
	StatusBy       *int64    `db:"status_by"`
	StatusByName   *string   `db:"status_by_name"`
	AssigneeV      int64     `db:"assignee_v"`
	AssigneeBy     *int64    `db:"assignee_by"`
	AssigneeByName *string   `db:"assignee_by_name"`
	ThreadV        int64     `db:"thread_v"`
	ThreadBy       *int64    `db:"thread_by"`
	ThreadByName   *string   `db:"thread_by_name"`
	TagsV          int64     `db:"tags_v"`
	TagsBy         *int64    `db:"tags_by"`
	TagsByName     *string   `db:"tags_by_name"`
}

// versionsTx reads the versions of a conversation the caller checked
// access to; on PostgreSQL it locks the row until the transaction ends, so
// two changes on the same version cannot both pass the check.
func versionsTx(ctx context.Context, t *tx, convID int64) (*conversationVersions, error) {
	var cv conversationVersions
	if err := t.get(ctx, &cv, t.store.convQ.ConversationVersions, convID); err != nil {
		return nil, fmt.Errorf("read version of conversation %d: %w", convID, err)
	}
	return &cv, nil
}

// next is the version the transaction's change writes.
func (cv *conversationVersions) next() int64 { return cv.Version + 1 }

func change(field string, v int64, by *int64, name *string) helpdesk.Change {
	c := helpdesk.Change{Field: field, Version: v, ByID: by}
	if name != nil {
		c.By = *name
	}
	return c
}

// staleness refuses a change made on version seen when one of the given
// changes happened after it. seen 0 (not given) refuses nothing.
func (cv *conversationVersions) staleness(seen int64, changes ...helpdesk.Change) error {
	if seen == 0 {
		return nil
	}
	if seen < 0 || seen > cv.Version {
		return &helpdesk.ValidationError{Fields: map[string]string{"version": fmt.Sprintf("must be a version of this conversation (1 to %d)", cv.Version)}}
	}
	var newer []helpdesk.Change
	for _, c := range changes {
		if c.Version > seen {
			newer = append(newer, c)
		}
	}
	if len(newer) == 0 {
		return nil
	}
	return &helpdesk.StaleError{Seen: seen, Current: cv.Version, Changes: newer}
}

func (cv *conversationVersions) statusChange() helpdesk.Change {
	return change(helpdesk.ChangedStatus, cv.StatusV, cv.StatusBy, cv.StatusByName)
}

func (cv *conversationVersions) assigneeChange() helpdesk.Change {
	return change(helpdesk.ChangedAssignee, cv.AssigneeV, cv.AssigneeBy, cv.AssigneeByName)
}

func (cv *conversationVersions) tagsChange() helpdesk.Change {
	return change(helpdesk.ChangedTags, cv.TagsV, cv.TagsBy, cv.TagsByName)
}

// messagesChange is the newest customer message or reply, unless the
// agent wrote it: their own reply is nothing new to read.
func (cv *conversationVersions) messagesChange(userID int64) []helpdesk.Change {
	if cv.ThreadBy != nil && *cv.ThreadBy == userID {
		return nil
	}
	return []helpdesk.Change{change(helpdesk.ChangedMessages, cv.ThreadV, cv.ThreadBy, cv.ThreadByName)}
}
