package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// recountFolders counts the folders the plain way: every conversation
// the viewer may see, its folder and whether it is unread, one by one.
func recountFolders(t *testing.T, w *workspace, v helpdesk.Viewer) map[string]helpdesk.FolderCount {
	t.Helper()
	var rows []struct {
		ID         int64  `db:"id"`
		MailboxID  int64  `db:"mailbox_id"`
		Status     string `db:"status"`
		AssigneeID *int64 `db:"assignee_id"`
		CustomerV  int64  `db:"customer_v"`
		ReadV      int64  `db:"read_v"`
	}
	err := w.db.Select(&rows, w.db.Rebind(`SELECT c.id, c.mailbox_id, c.status, c.assignee_id, c.customer_v, COALESCE(r.read_v, 0) AS read_v
		FROM conversations c LEFT JOIN conversation_reads r ON r.conversation_id = c.id AND r.user_id = ?
		WHERE c.merged_into IS NULL AND (? OR c.mailbox_id IN (SELECT mailbox_id FROM user_mailboxes WHERE user_id = ?))`),
		v.UserID, v.Admin, v.UserID)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]helpdesk.FolderCount{}
	add := func(mailbox int64, folder string, unread bool) {
		key := fmt.Sprintf("%d/%s", mailbox, folder)
		c := counts[key]
		c.Folder = folder
		c.Total++
		if unread {
			c.Unread++
		}
		counts[key] = c
	}
	for _, r := range rows {
		unread := r.CustomerV > r.ReadV
		switch {
		case r.Status == helpdesk.StatusClosed:
			add(r.MailboxID, helpdesk.FolderClosed, unread)
		case r.Status == helpdesk.StatusSpam:
			add(r.MailboxID, helpdesk.FolderSpam, unread)
		case r.AssigneeID == nil:
			add(r.MailboxID, helpdesk.FolderUnassigned, unread)
		default:
			add(r.MailboxID, helpdesk.FolderAssigned, unread)
			if *r.AssigneeID == v.UserID {
				add(r.MailboxID, helpdesk.FolderMine, unread)
			}
		}
	}
	return counts
}

// checkFolders compares FolderCounts, and the list's total of each
// folder, with the recount.
func checkFolders(t *testing.T, w *workspace, step string) {
	t.Helper()
	ctx := context.Background()
	for _, v := range []helpdesk.Viewer{w.adminV(), w.agentV(), w.otherV()} {
		want := recountFolders(t, w, v)
		got, err := w.s.FolderCounts(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range got {
			for _, fc := range mf.Folders {
				key := fmt.Sprintf("%d/%s", mf.MailboxID, fc.Folder)
				if w := want[key]; fc.Total != w.Total || fc.Unread != w.Unread {
					t.Errorf("%s: user %d, %s: %d (%d unread), recount %d (%d unread)", step, v.UserID, key, fc.Total, fc.Unread, w.Total, w.Unread)
				}
				delete(want, key)
				list, err := w.s.Conversations(ctx, v, helpdesk.ConversationFilter{MailboxID: mf.MailboxID, Folder: fc.Folder, PerPage: 100})
				if err != nil {
					t.Fatal(err)
				}
				unread := 0
				for _, c := range list.Conversations {
					if c.Unread {
						unread++
					}
				}
				if list.Total != fc.Total || unread != fc.Unread {
					t.Errorf("%s: user %d, %s: the list has %d (%d unread), the sidebar %d (%d unread)", step, v.UserID, key, list.Total, unread, fc.Total, fc.Unread)
				}
			}
		}
		for key, c := range want {
			t.Errorf("%s: user %d: %s (%d) missing from the sidebar", step, v.UserID, key, c.Total)
		}
	}
}

func TestFolderCountsMatchRecount(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			checkFolders(t, w, "empty")
			var convs []int64
			for i := range 6 {
				mb := w.mb1
				if i%3 == 2 {
					mb = w.mb2
				}
				convs = append(convs, w.ingest(t, mail{mailbox: mb, from: fmt.Sprintf("c%d@customer.example", i), subject: fmt.Sprint("Question ", i),
					text: "hello", messageID: fmt.Sprintf("q%d@customer.example", i)}).ConversationID)
			}
			checkFolders(t, w, "new mail")

			agent, admin := w.agentV(), w.adminV()
			steps := []struct {
				name string
				do   func() error
			}{
				{"assign to the agent", func() error {
					return w.s.UpdateConversation(ctx, agent, convs[0], helpdesk.ConversationChange{AssigneeID: &w.agent.ID})
				}},
				{"assign to the admin", func() error {
					return w.s.UpdateConversation(ctx, admin, convs[1], helpdesk.ConversationChange{AssigneeID: &w.admin.ID})
				}},
				{"agent reads", func() error {
					if err := read(w, agent, convs[0], convs[1], convs[4]); err != nil {
						return err
					}
					wantUnread(t, w, agent, convs[1], false)
					wantUnread(t, w, admin, convs[1], true)
					return nil
				}},
				{"admin reads", func() error { return read(w, admin, convs[1], convs[2], convs[3]) }},
				{"close", func() error {
					return w.s.UpdateConversation(ctx, agent, convs[3], helpdesk.ConversationChange{Status: ptr(helpdesk.StatusClosed)})
				}},
				{"spam", func() error {
					return w.s.UpdateConversation(ctx, admin, convs[2], helpdesk.ConversationChange{Status: ptr(helpdesk.StatusSpam)})
				}},
				{"reply", func() error {
					_, err := w.s.AddReply(ctx, agent, convs[0], helpdesk.NewReply{Body: "On it."})
					return err
				}},
				{"new mail to a read one", func() error {
					w.ingest(t, mail{from: "c1@customer.example", subject: "Re: Question 1", text: "more", inReplyTo: "q1@customer.example"})
					wantUnread(t, w, agent, convs[1], true)
					return nil
				}},
				{"new mail reopens a closed one", func() error {
					w.ingest(t, mail{from: "c3@customer.example", subject: "Re: Question 3", text: "again", inReplyTo: "q3@customer.example"})
					return nil
				}},
				{"merge a read one into an unread one", func() error { return w.s.MergeConversation(ctx, agent, convs[0], convs[4], 0) }},
				{"bulk", func() error {
					_, err := w.s.Bulk(ctx, admin, helpdesk.BulkChange{Action: helpdesk.BulkStatus, IDs: []int64{convs[1], convs[5]}, Status: helpdesk.StatusClosed})
					return err
				}},
			}
			for _, s := range steps {
				if err := s.do(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				checkFolders(t, w, s.name)
			}
			// The merge target is unread for the agent who had read both:
			// the source's messages are new there.
			wantUnread(t, w, agent, convs[4], true)
		})
	}
}

// wantUnread checks whether the list shows a conversation unread to v.
func wantUnread(t *testing.T, w *workspace, v helpdesk.Viewer, id int64, want bool) {
	t.Helper()
	l, err := w.s.Conversations(context.Background(), v, helpdesk.ConversationFilter{PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range l.Conversations {
		if c.ID == id {
			if c.Unread != want {
				t.Errorf("user %d: #%d unread %v, want %v", v.UserID, id, c.Unread, want)
			}
			return
		}
	}
	t.Errorf("user %d: #%d not in the list", v.UserID, id)
}

// read opens conversations as the viewer's page does.
func read(w *workspace, v helpdesk.Viewer, ids ...int64) error {
	for _, id := range ids {
		d, err := w.s.Conversation(context.Background(), v, id)
		if err != nil {
			return err
		}
		if err := w.s.MarkRead(context.Background(), v, id, d.Version); err != nil {
			return err
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
