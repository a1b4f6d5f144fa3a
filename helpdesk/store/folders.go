package store

import (
	"context"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// FolderCounts are the folders of every mailbox the viewer may see, by
// mailbox name, with their counts and the viewer's unread counts. Two
// grouped counts: every conversation (conversations_folders only), and
// the ones the viewer read since the customer last wrote, which is as
// many rows as they read.
func (s *Store) FolderCounts(ctx context.Context, v helpdesk.Viewer) ([]helpdesk.MailboxFolders, error) {
	mbs, err := s.VisibleMailboxes(ctx, v)
	if err != nil {
		return nil, err
	}
	p := s.list
	var all, read listQuery
	all.add(p.folderCounts)
	read.add(p.folderReads, v.UserID)
	if !v.Admin {
		// The agent's mailboxes as a list, not a join the planner
		// weighs (PostgreSQL ran it on parallel workers).
		ids := make([]int64, len(mbs))
		for i, m := range mbs {
			ids[i] = m.ID
		}
		list, err := s.dialect.listArg(ids)
		if err != nil {
			return nil, fmt.Errorf("count folders: %w", err)
		}
		all.add(p.mailboxes, list)
		read.add(p.mailboxes, list)
	}
	all.add(p.folderEnd)
	read.add(p.folderEnd)
	var groups, readGroups []folderGroup
	if err := all.sel(ctx, s, &groups); err != nil {
		return nil, fmt.Errorf("count folders: %w", err)
	}
	if err := read.sel(ctx, s, &readGroups); err != nil {
		return nil, fmt.Errorf("count read conversations: %w", err)
	}
	counts := map[int64]map[string]*helpdesk.FolderCount{}
	for _, m := range mbs {
		counts[m.ID] = map[string]*helpdesk.FolderCount{}
		for _, f := range helpdesk.Folders {
			counts[m.ID][f] = &helpdesk.FolderCount{Folder: f}
		}
	}
	for _, g := range groups {
		g.addTo(counts, v.UserID, g.N, g.Unread)
	}
	for _, g := range readGroups {
		g.addTo(counts, v.UserID, 0, -g.N)
	}
	out := make([]helpdesk.MailboxFolders, 0, len(mbs))
	for _, m := range mbs {
		mf := helpdesk.MailboxFolders{MailboxID: m.ID, MailboxName: m.Name}
		for _, f := range helpdesk.Folders {
			mf.Folders = append(mf.Folders, *counts[m.ID][f])
		}
		out = append(out, mf)
	}
	return out, nil
}

// folderGroup is one group of folder-counts or folder-reads.
type folderGroup struct {
	MailboxID  int64  `db:"mailbox_id"`
	Status     string `db:"status"`
	AssigneeID *int64 `db:"assignee_id"`
	N          int    `db:"n"`
	Unread     int    `db:"unread"`
}

// addTo adds a group's counts to its folders.
func (g folderGroup) addTo(counts map[int64]map[string]*helpdesk.FolderCount, userID int64, n, unread int) {
	folders := counts[g.MailboxID]
	if folders == nil {
		return
	}
	for _, f := range g.folders(userID) {
		folders[f].Total += n
		folders[f].Unread += unread
	}
}

// folders are the folders of a group; assigned to the viewer (userID)
// is in Mine and in Assigned.
func (g folderGroup) folders(userID int64) []string {
	switch {
	case g.Status == helpdesk.StatusClosed:
		return []string{helpdesk.FolderClosed}
	case g.Status == helpdesk.StatusSpam:
		return []string{helpdesk.FolderSpam}
	case g.AssigneeID == nil:
		return []string{helpdesk.FolderUnassigned}
	case *g.AssigneeID == userID:
		return []string{helpdesk.FolderMine, helpdesk.FolderAssigned}
	}
	return []string{helpdesk.FolderAssigned}
}

// markUnread marks the page's conversations the viewer has not read
// since the customer last wrote.
func (s *Store) markUnread(ctx context.Context, v helpdesk.Viewer, convs []helpdesk.ConversationSummary) error {
	if len(convs) == 0 {
		return nil
	}
	ids := make([]int64, len(convs))
	for i, c := range convs {
		ids[i] = c.ID
	}
	list, err := s.dialect.listArg(ids)
	if err != nil {
		return fmt.Errorf("list read versions: %w", err)
	}
	var rows []struct {
		ConversationID int64 `db:"conversation_id"`
		ReadV          int64 `db:"read_v"`
	}
	if err := s.convQ.ConversationReads.SelectContext(ctx, &rows, v.UserID, list); err != nil {
		return fmt.Errorf("list read versions: %w", err)
	}
	read := make(map[int64]int64, len(rows))
	for _, r := range rows {
		read[r.ConversationID] = r.ReadV
	}
	for i := range convs {
		convs[i].Unread = convs[i].CustomerV > read[convs[i].ID]
	}
	return nil
}

// MarkRead records that the viewer read a conversation they may see (the
// caller checked) as it was at version.
func (s *Store) MarkRead(ctx context.Context, v helpdesk.Viewer, convID, version int64) error {
	if v.UserID < 1 {
		return nil
	}
	if _, err := s.convQ.MarkRead.ExecContext(ctx, v.UserID, convID, version); err != nil {
		return fmt.Errorf("mark conversation %d read: %w", convID, err)
	}
	return nil
}

// SetRead marks a conversation the viewer may see (else ErrNotFound) read
// as it is now, or unread again: bold in their list until they next open
// it. Unread needs a customer message (customer_v): there is nothing new
// to read in a conversation without one.
func (s *Store) SetRead(ctx context.Context, v helpdesk.Viewer, convID int64, read bool) error {
	if _, err := s.ConversationMailbox(ctx, v, convID); err != nil {
		return err
	}
	q, what := s.convQ.MarkReadNow, "read"
	if !read {
		q, what = s.convQ.MarkUnread, "unread"
	}
	if _, err := q.ExecContext(ctx, v.UserID, convID); err != nil {
		return fmt.Errorf("mark conversation %d %s: %w", convID, what, err)
	}
	return nil
}

// Unread tells whether the conversation is unread for the viewer.
func (s *Store) Unread(ctx context.Context, v helpdesk.Viewer, convID int64) (bool, error) {
	var unread int
	if err := s.convQ.Unread.GetContext(ctx, &unread, v.UserID, convID); err != nil {
		return false, fmt.Errorf("read state of conversation %d: %w", convID, err)
	}
	return unread == 1, nil
}
