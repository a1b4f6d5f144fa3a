package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// TestMain is the one of package helpdesk_test (PostgreSQL needs it).
func TestMain(m *testing.M) { testserver.Main(m) }

// workspace is the setup of the agent-workspace tests: two mailboxes, an
// admin, an agent on mailbox 1 and an agent on mailbox 2.
type workspace struct {
	s                   *store.Store
	db                  *sqlx.DB // a second connection, for asserting on rows
	mb1, mb2            int64
	admin, agent, other *helpdesk.User
	uid                 atomic.Uint32
}

func (w *workspace) adminV() helpdesk.Viewer { return helpdesk.ViewerOf(w.admin) }
func (w *workspace) agentV() helpdesk.Viewer { return helpdesk.ViewerOf(w.agent) }
func (w *workspace) otherV() helpdesk.Viewer { return helpdesk.ViewerOf(w.other) }

func setupWorkspace(t *testing.T, dialect string) *workspace {
	t.Helper()
	return setupWorkspaceAt(t, teststore.URL(t, dialect))
}

// setupWorkspaceAt is setupWorkspace on the database at url.
func setupWorkspaceAt(t *testing.T, url string) *workspace {
	t.Helper()
	ctx := context.Background()
	w := &workspace{s: teststore.OpenURL(t, url, store.Options{}), db: teststore.RawDB(t, url)}
	var err error
	for i, id := range []*int64{&w.mb1, &w.mb2} {
		*id, err = w.s.CreateMailbox(ctx, helpdesk.MailboxInput{
			Name: fmt.Sprintf("Support %d", i+1), Email: fmt.Sprintf("support%d@example.com", i+1),
			IMAPHost: "127.0.0.1", IMAPPort: 143, IMAPSecurity: "none", IMAPUser: "u", IMAPPassword: "p",
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	mk := func(email, role string) *helpdesk.User {
		u, err := w.s.CreateUser(ctx, helpdesk.UserInput{Email: email, Name: strings.Split(email, "@")[0], Role: role, Password: "password-123456"})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	w.admin = mk("admin@example.com", helpdesk.RoleAdmin)
	w.agent = mk("agent@example.com", helpdesk.RoleAgent)
	w.other = mk("other@example.com", helpdesk.RoleAgent)
	if err := w.s.SetUserMailboxes(ctx, w.agent.ID, []int64{w.mb1}); err != nil {
		t.Fatal(err)
	}
	if err := w.s.SetUserMailboxes(ctx, w.other.ID, []int64{w.mb2}); err != nil {
		t.Fatal(err)
	}
	return w
}

// mail is a customer message for ingest.
type mail struct {
	mailbox     int64
	from, name  string
	subject     string
	text, html  string
	messageID   string
	inReplyTo   string
	attachments []helpdesk.Attachment
}

func (w *workspace) ingest(t *testing.T, m mail) helpdesk.IngestResult {
	t.Helper()
	if m.mailbox == 0 {
		m.mailbox = w.mb1
	}
	uid := w.uid.Add(1)
	if m.messageID == "" {
		m.messageID = fmt.Sprintf("msg-%d@customer.example", uid)
	}
	msg := &helpdesk.IncomingMessage{
		MessageID: m.messageID, InReplyTo: m.inReplyTo,
		From:    helpdesk.Address{Name: m.name, Email: m.from},
		To:      []helpdesk.Address{{Email: "support@example.com"}},
		Subject: m.subject, Text: m.text, HTML: m.html, Attachments: m.attachments,
		DedupKey: "mid:" + m.messageID, Raw: []byte("Subject: " + m.subject + "\r\n\r\n" + m.text),
	}
	if m.inReplyTo != "" {
		msg.References = []string{m.inReplyTo}
	}
	res, err := teststore.Ingest(context.Background(), w.s, helpdesk.MessageSource{
		MailboxID: m.mailbox, Folder: "INBOX", UIDValidity: 1, UID: uid,
	}, msg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != helpdesk.OutcomeNew {
		t.Fatalf("ingest %q: outcome %s", m.subject, res.Outcome)
	}
	return res
}

func ids(l *helpdesk.ConversationList) []int64 {
	out := []int64{}
	for _, c := range l.Conversations {
		out = append(out, c.ID)
	}
	return out
}

func eqIDs(a, b []int64) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestConversationList(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			c1 := w.ingest(t, mail{from: "alice@customer.example", name: "Alice Liddell", subject: "Printer on fire", text: "It is burning."}).ConversationID
			c2 := w.ingest(t, mail{from: "bob@customer.example", subject: "Invoice 100%_off", text: "Please send the invoice."}).ConversationID
			c3 := w.ingest(t, mail{from: "carol@customer.example", subject: "Hello", text: "The WIDGET broke again"}).ConversationID
			c4 := w.ingest(t, mail{mailbox: w.mb2, from: "dave@customer.example", subject: "Other mailbox", text: "secret widget"}).ConversationID

			status := helpdesk.StatusPending
			assignee := w.agent.ID
			if err := w.s.UpdateConversation(ctx, w.adminV(), c2, helpdesk.ConversationChange{Status: &status, AssigneeID: &assignee}); err != nil {
				t.Fatal(err)
			}
			if err := w.s.AddTag(ctx, w.agentV(), c3, "VIP", 0); err != nil {
				t.Fatal(err)
			}

			list := func(v helpdesk.Viewer, f helpdesk.ConversationFilter) *helpdesk.ConversationList {
				t.Helper()
				l, err := w.s.Conversations(ctx, v, f)
				if err != nil {
					t.Fatalf("%+v: %v", f, err)
				}
				return l
			}
			cases := []struct {
				name string
				v    helpdesk.Viewer
				f    helpdesk.ConversationFilter
				want []int64
			}{
				{"admin sees all, newest first", w.adminV(), helpdesk.ConversationFilter{}, []int64{c4, c3, c2, c1}},
				{"agent sees own mailbox", w.agentV(), helpdesk.ConversationFilter{}, []int64{c3, c2, c1}},
				{"other agent", w.otherV(), helpdesk.ConversationFilter{}, []int64{c4}},
				{"agent filtering other mailbox sees nothing", w.agentV(), helpdesk.ConversationFilter{MailboxID: w.mb2}, []int64{}},
				{"mailbox", w.adminV(), helpdesk.ConversationFilter{MailboxID: w.mb2}, []int64{c4}},
				{"status", w.adminV(), helpdesk.ConversationFilter{Status: "pending"}, []int64{c2}},
				{"assignee", w.adminV(), helpdesk.ConversationFilter{AssigneeID: w.agent.ID}, []int64{c2}},
				{"unassigned", w.agentV(), helpdesk.ConversationFilter{Unassigned: true}, []int64{c3, c1}},
				{"tag", w.adminV(), helpdesk.ConversationFilter{Tag: "vip"}, []int64{c3}},
				{"search subject", w.adminV(), helpdesk.ConversationFilter{Query: "printer"}, []int64{c1}},
				{"search customer name", w.adminV(), helpdesk.ConversationFilter{Query: "liddell"}, []int64{c1}},
				{"search customer email", w.adminV(), helpdesk.ConversationFilter{Query: "bob@"}, []int64{c2}},
				{"search body, case-insensitive", w.adminV(), helpdesk.ConversationFilter{Query: "widget"}, []int64{c4, c3}},
				{"search body limited to own mailboxes", w.agentV(), helpdesk.ConversationFilter{Query: "widget"}, []int64{c3}},
				{"search is literal", w.adminV(), helpdesk.ConversationFilter{Query: "100%_"}, []int64{c2}},
				{"page 2", w.adminV(), helpdesk.ConversationFilter{Page: 2, PerPage: 3}, []int64{c1}},
				{"past the end", w.adminV(), helpdesk.ConversationFilter{Page: 5, PerPage: 3}, []int64{}},
			}
			for _, tc := range cases {
				if got := ids(list(tc.v, tc.f)); !eqIDs(got, tc.want) {
					t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
				}
			}

			l := list(w.agentV(), helpdesk.ConversationFilter{Status: "active"})
			if l.Counts["active"] != 2 || l.Counts["pending"] != 1 || l.Counts["closed"] != 0 || l.Counts["spam"] != 0 || l.Total != 2 {
				t.Errorf("counts %v total %d", l.Counts, l.Total)
			}
			l = list(w.adminV(), helpdesk.ConversationFilter{PerPage: 3})
			if l.Total != 4 || l.Pages() != 2 {
				t.Errorf("total %d pages %d", l.Total, l.Pages())
			}
			if c := l.Conversations[1]; c.ID != c3 || fmt.Sprint(c.Tags) != "[vip]" || c.CustomerEmail != "carol@customer.example" || c.MailboxName != "Support 1" {
				t.Errorf("summary %+v", c)
			}
			if c := l.Conversations[2]; c.AssigneeName == nil || *c.AssigneeName != "agent" || c.Status != "pending" {
				t.Errorf("summary %+v", c)
			}

			for _, f := range []helpdesk.ConversationFilter{
				{Status: "open"}, {Page: -1}, {PerPage: 101}, {Page: 1 << 30}, {Query: strings.Repeat("x", 201)}, {MailboxID: -1},
			} {
				if _, err := w.s.Conversations(ctx, w.adminV(), f); !errors.Is(err, helpdesk.ErrInvalid) {
					t.Errorf("%+v: err %v, want ErrInvalid", f, err)
				}
			}
		})
	}
}

func TestConversationView(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			first := w.ingest(t, mail{from: "alice@customer.example", name: "Alice", subject: "Help", text: "first", html: "<p>first</p>",
				attachments: []helpdesk.Attachment{
					{Filename: "logo.png", ContentType: "image/png", ContentID: "logo@x", Inline: true, Data: []byte("PNG")},
					{Filename: "report.pdf", ContentType: "application/pdf", Data: []byte("%PDF")},
				}})
			second := w.ingest(t, mail{from: "alice@customer.example", subject: "Re: Help", text: "second", inReplyTo: "msg-1@customer.example"})
			if second.ConversationID != first.ConversationID {
				t.Fatalf("second message in conversation %d, want %d", second.ConversationID, first.ConversationID)
			}
			if _, err := w.s.AddNote(ctx, w.agentV(), first.ConversationID, "internal remark", 0); err != nil {
				t.Fatal(err)
			}

			d, err := w.s.Conversation(ctx, w.agentV(), first.ConversationID)
			if err != nil {
				t.Fatal(err)
			}
			if d.Subject != "Help" || d.CustomerName != "Alice" || d.MailboxEmail != "support1@example.com" || len(d.Threads) != 3 {
				t.Fatalf("detail %+v", d)
			}
			th := d.Threads
			if th[0].Kind != "customer" || th[0].BodyText != "first" || th[0].FromEmail != "alice@customer.example" || th[0].MessageID != "msg-1@customer.example" || !th[0].HasHTML() {
				t.Errorf("thread 0 %+v", th[0])
			}
			if th[1].BodyText != "second" || th[2].Kind != "note" || th[2].BodyText != "internal remark" || th[2].FromName != "agent" {
				t.Errorf("threads 1, 2: %+v %+v", th[1], th[2])
			}
			if len(th[0].Attachments) != 2 || len(th[1].Attachments) != 0 || th[0].Attachments[0].Filename != "logo.png" || th[0].Attachments[1].Size != 4 {
				t.Errorf("attachments %+v", th[0].Attachments)
			}

			// Attachments: by id and by content-id, only with access.
			att, err := w.s.Attachment(ctx, w.agentV(), th[0].Attachments[1].ID)
			if err != nil || string(att.Data) != "%PDF" || att.ContentType != "application/pdf" {
				t.Errorf("attachment: %+v %v", att, err)
			}
			inl, err := w.s.InlineAttachment(ctx, w.agentV(), th[0].ID, "<logo@x>")
			if err != nil || string(inl.Data) != "PNG" {
				t.Errorf("inline attachment: %+v %v", inl, err)
			}
			if _, err := w.s.InlineAttachment(ctx, w.agentV(), th[1].ID, "logo@x"); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("cid of another thread: %v", err)
			}
			if _, err := w.s.Attachment(ctx, w.otherV(), th[0].Attachments[1].ID); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("attachment of other mailbox: %v", err)
			}
			if _, err := w.s.InlineAttachment(ctx, w.otherV(), th[0].ID, "logo@x"); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("inline attachment of other mailbox: %v", err)
			}
			if _, err := w.s.Attachment(ctx, w.adminV(), 99999); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("unknown attachment: %v", err)
			}

			// Other mailboxes' conversations do not exist for an agent.
			if _, err := w.s.Conversation(ctx, w.otherV(), first.ConversationID); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("other agent: %v", err)
			}
			if _, err := w.s.Conversation(ctx, w.adminV(), 424242); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("unknown id: %v", err)
			}
			if _, err := w.s.Conversation(ctx, helpdesk.ViewerOf(nil), first.ConversationID); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("nobody: %v", err)
			}
		})
	}
}

func TestUpdateConversation(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			conv := w.ingest(t, mail{from: "alice@customer.example", subject: "Help", text: "x"}).ConversationID
			get := func() *helpdesk.ConversationDetail {
				t.Helper()
				d, err := w.s.Conversation(ctx, w.adminV(), conv)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			str := func(s string) *string { return &s }
			id := func(i int64) *int64 { return &i }

			if err := w.s.UpdateConversation(ctx, w.agentV(), conv, helpdesk.ConversationChange{Status: str("closed"), AssigneeID: id(w.agent.ID)}); err != nil {
				t.Fatal(err)
			}
			if d := get(); d.Status != "closed" || d.AssigneeID == nil || *d.AssigneeID != w.agent.ID {
				t.Fatalf("after update: %+v", d.ConversationSummary)
			}
			// Assigning an admin is fine (admins see every mailbox).
			if err := w.s.UpdateConversation(ctx, w.agentV(), conv, helpdesk.ConversationChange{AssigneeID: id(w.admin.ID)}); err != nil {
				t.Fatal(err)
			}
			bad := []struct {
				name string
				v    helpdesk.Viewer
				conv int64
				ch   helpdesk.ConversationChange
				want error
			}{
				{"unknown status", w.agentV(), conv, helpdesk.ConversationChange{Status: str("open"), AssigneeID: id(w.agent.ID)}, helpdesk.ErrInvalid},
				{"assignee without access to the mailbox", w.agentV(), conv, helpdesk.ConversationChange{Status: str("active"), AssigneeID: id(w.other.ID)}, helpdesk.ErrInvalid},
				{"unknown assignee", w.agentV(), conv, helpdesk.ConversationChange{Status: str("active"), AssigneeID: id(9999)}, helpdesk.ErrInvalid},
				{"negative assignee", w.agentV(), conv, helpdesk.ConversationChange{AssigneeID: id(-3)}, helpdesk.ErrInvalid},
				{"nothing", w.agentV(), conv, helpdesk.ConversationChange{}, helpdesk.ErrInvalid},
				{"other mailbox", w.otherV(), conv, helpdesk.ConversationChange{Status: str("spam")}, helpdesk.ErrNotFound},
				{"unknown conversation", w.adminV(), 9999, helpdesk.ConversationChange{Status: str("spam")}, helpdesk.ErrNotFound},
			}
			for _, tc := range bad {
				if err := w.s.UpdateConversation(ctx, tc.v, tc.conv, tc.ch); !errors.Is(err, tc.want) {
					t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
				}
				if d := get(); d.Status != "closed" || d.AssigneeID == nil || *d.AssigneeID != w.admin.ID {
					t.Fatalf("%s changed the conversation: %+v", tc.name, d.ConversationSummary)
				}
			}
			if err := w.s.UpdateConversation(ctx, w.agentV(), conv, helpdesk.ConversationChange{AssigneeID: id(0)}); err != nil {
				t.Fatal(err)
			}
			if d := get(); d.AssigneeID != nil {
				t.Errorf("unassign: %+v", d.ConversationSummary)
			}
			as, err := w.s.Assignees(ctx, w.mb1)
			if err != nil || len(as) != 2 {
				t.Errorf("assignees of mailbox 1: %+v %v", as, err)
			}
			ms, err := w.s.VisibleMailboxes(ctx, w.agentV())
			if err != nil || len(ms) != 1 || ms[0].ID != w.mb1 {
				t.Errorf("visible mailboxes: %+v %v", ms, err)
			}
			if ms, _ := w.s.VisibleMailboxes(ctx, w.adminV()); len(ms) != 2 {
				t.Errorf("admin's mailboxes: %+v", ms)
			}
		})
	}
}
