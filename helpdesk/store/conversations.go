package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// viewerArgs are the parameters of a query's access condition (admin,
// user id): admins see every mailbox, agents the ones given to them.
func viewerArgs(v helpdesk.Viewer) []any { return []any{v.Admin, v.UserID} }

// attachTags fills in the tags of a page of conversations with one query.
func (s *Store) attachTags(ctx context.Context, convs []helpdesk.ConversationSummary) error {
	if len(convs) == 0 {
		return nil
	}
	ids := make([]int64, len(convs))
	byID := make(map[int64]*helpdesk.ConversationSummary, len(convs))
	for i := range convs {
		ids[i] = convs[i].ID
		convs[i].Tags = []string{}
		byID[convs[i].ID] = &convs[i]
	}
	list, err := s.dialect.listArg(ids)
	if err != nil {
		return fmt.Errorf("list tags: %w", err)
	}
	var rows []struct {
		ConversationID int64  `db:"conversation_id"`
		Name           string `db:"name"`
	}
	if err := s.convQ.ConversationTags.SelectContext(ctx, &rows, list); err != nil {
		return fmt.Errorf("list tags: %w", err)
	}
	for _, r := range rows {
		if c := byID[r.ConversationID]; c != nil {
			c.Tags = append(c.Tags, r.Name)
		}
	}
	return nil
}

// Conversation returns one of the viewer's conversations with its threads
// and their attachments (without data), *helpdesk.Merged for a merged
// one, or ErrNotFound.
func (s *Store) Conversation(ctx context.Context, v helpdesk.Viewer, id int64) (*helpdesk.ConversationDetail, error) {
	q := &s.convQ
	var d helpdesk.ConversationDetail
	err := q.Conversation.GetContext(ctx, &d, append([]any{id}, viewerArgs(v)...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("conversation %d: %w", id, helpdesk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get conversation %d: %w", id, err)
	}
	if d.MergedInto != nil {
		return nil, &helpdesk.Merged{ID: id, Into: *d.MergedInto}
	}
	if err := q.MailboxEmail.GetContext(ctx, &d.MailboxEmail, d.MailboxID); err != nil {
		return nil, fmt.Errorf("get mailbox of conversation %d: %w", id, err)
	}
	one := []helpdesk.ConversationSummary{d.ConversationSummary}
	if err := s.attachTags(ctx, one); err != nil {
		return nil, err
	}
	d.Tags = one[0].Tags
	if err := q.ConversationThreads.SelectContext(ctx, &d.Threads, id); err != nil {
		return nil, fmt.Errorf("get threads of conversation %d: %w", id, err)
	}
	var atts []helpdesk.AttachmentInfo
	if err := q.ConversationAttachments.SelectContext(ctx, &atts, id); err != nil {
		return nil, fmt.Errorf("get attachments of conversation %d: %w", id, err)
	}
	byThread := make(map[int64]*helpdesk.Thread, len(d.Threads))
	for i := range d.Threads {
		d.Threads[i].Attachments = []helpdesk.AttachmentInfo{}
		byThread[d.Threads[i].ID] = &d.Threads[i]
	}
	for _, a := range atts {
		if t := byThread[a.ThreadID]; t != nil {
			t.Attachments = append(t.Attachments, a)
		}
	}
	if err := s.attachDeliveries(ctx, id, byThread); err != nil {
		return nil, err
	}
	if d.Threads == nil {
		d.Threads = []helpdesk.Thread{}
	}
	return &d, nil
}

// ConversationMailbox returns the mailbox of a conversation the viewer may
// see, or ErrNotFound: the cheap access check of frequent requests
// (presence heartbeats).
func (s *Store) ConversationMailbox(ctx context.Context, v helpdesk.Viewer, id int64) (int64, error) {
	var mailboxID int64
	err := s.convQ.ConversationMailbox.GetContext(ctx, &mailboxID, append([]any{id}, viewerArgs(v)...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("conversation %d: %w", id, helpdesk.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("check access to conversation %d: %w", id, err)
	}
	return mailboxID, nil
}

// checkAccessTx returns the mailbox of a conversation the viewer may see,
// or ErrNotFound. It reads inside t so an action checks and writes in one
// transaction.
func checkAccessTx(ctx context.Context, t *tx, v helpdesk.Viewer, convID int64) (mailboxID int64, err error) {
	err = t.get(ctx, &mailboxID, t.store.convQ.ConversationMailbox, append([]any{convID}, viewerArgs(v)...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("conversation %d: %w", convID, helpdesk.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("check access to conversation %d: %w", convID, err)
	}
	return mailboxID, nil
}

// UpdateConversation changes status and/or assignee in one transaction,
// as one new version. The assignee must be a user who can see the
// conversation's mailbox. Nothing changes when any part is invalid, or
// (*helpdesk.StaleError) when a field it changes changed since ch.Seen.
func (s *Store) UpdateConversation(ctx context.Context, v helpdesk.Viewer, id int64, ch helpdesk.ConversationChange) error {
	if err := ch.Validate(); err != nil {
		return err
	}
	return s.inTx(ctx, func(t *tx) error {
		mailboxID, err := checkAccessTx(ctx, t, v, id)
		if err != nil {
			return err
		}
		cv, err := versionsTx(ctx, t, id)
		if err != nil {
			return err
		}
		var changing []helpdesk.Change
		if ch.Status != nil && *ch.Status != cv.Status {
			changing = append(changing, cv.statusChange())
		}
		if ch.AssigneeID != nil && *ch.AssigneeID != derefID(cv.AssigneeID) {
			changing = append(changing, cv.assigneeChange())
		}
		if err := cv.staleness(ch.Seen, changing...); err != nil {
			return err
		}
		if ch.AssigneeID != nil {
			if err := assignTx(ctx, t, v, cv, id, mailboxID, *ch.AssigneeID); err != nil {
				return err
			}
		}
		if ch.Status != nil {
			if err := setStatusTx(ctx, t, v, cv, id, *ch.Status); err != nil {
				return err
			}
		}
		t.addEvent(helpdesk.EventConversationUpdated, mailboxID, id, 0)
		return nil
	})
}

func derefID(id *int64) int64 {
	if id == nil {
		return 0
	}
	return *id
}

// setStatusTx sets a different status as the transaction's version.
func setStatusTx(ctx context.Context, t *tx, v helpdesk.Viewer, cv *conversationVersions, convID int64, status string) error {
	_, err := t.exec(ctx, t.store.convQ.SetConversationStatus, status, cv.next(), v.UserID, cv.next(), now(), convID, status)
	if err != nil {
		return fmt.Errorf("set status of conversation %d: %w", convID, err)
	}
	return nil
}

// assignTx assigns a conversation (assigneeID 0 unassigns) as the
// transaction's version and notifies the new assignee when the assignee
// changed.
func assignTx(ctx context.Context, t *tx, v helpdesk.Viewer, cv *conversationVersions, convID, mailboxID, assigneeID int64) error {
	var assignee any
	if assigneeID != 0 {
		ok, err := canSeeMailbox(ctx, t, assigneeID, mailboxID)
		if err != nil {
			return err
		}
		if !ok {
			return &helpdesk.ValidationError{Fields: map[string]string{"assignee": helpdesk.NoSuchAssignee}}
		}
		assignee = assigneeID
	}
	res, err := t.exec(ctx, t.store.convQ.AssignConversation, assignee, cv.next(), v.UserID, cv.next(), now(), convID, assignee)
	if err != nil {
		return fmt.Errorf("assign conversation %d: %w", convID, err)
	}
	// "Assigned to you" goes out in this transaction, once.
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("assign conversation %d: %w", convID, err)
	}
	if n == 0 {
		return nil
	}
	return notifyAssignedTx(ctx, t, convID, assigneeID, v.UserID)
}

// canSeeMailbox reports whether a user exists and may see a mailbox.
func canSeeMailbox(ctx context.Context, t *tx, userID, mailboxID int64) (bool, error) {
	var n int
	if err := t.get(ctx, &n, t.store.convQ.CanSeeMailbox, userID, mailboxID); err != nil {
		return false, fmt.Errorf("check user %d: %w", userID, err)
	}
	return n > 0, nil
}

// Assignees lists the users who can see a mailbox, by name.
func (s *Store) Assignees(ctx context.Context, mailboxID int64) ([]helpdesk.Assignee, error) {
	var us []helpdesk.Assignee
	if err := s.convQ.Assignees.SelectContext(ctx, &us, mailboxID); err != nil {
		return nil, fmt.Errorf("list assignees of mailbox %d: %w", mailboxID, err)
	}
	return us, nil
}

// VisibleMailboxes lists the mailboxes the viewer may see, by name.
func (s *Store) VisibleMailboxes(ctx context.Context, v helpdesk.Viewer) ([]helpdesk.MailboxRef, error) {
	var ms []helpdesk.MailboxRef
	if err := s.convQ.VisibleMailboxes.SelectContext(ctx, &ms, viewerArgs(v)...); err != nil {
		return nil, fmt.Errorf("list visible mailboxes: %w", err)
	}
	return ms, nil
}
