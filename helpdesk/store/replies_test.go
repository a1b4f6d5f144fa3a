package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

type outboxRow struct {
	DedupKey  string `db:"dedup_key"`
	Kind      string `db:"kind"`
	MailboxID int64  `db:"mailbox_id"`
	ThreadID  int64  `db:"thread_id"`
	From      string `db:"from_addr"`
	To        string `db:"to_addrs"`
	Subject   string `db:"subject"`
	BodyText  string `db:"body_text"`
	Headers   string `db:"headers"`
	MessageID string `db:"message_id"`
}

func (w *workspace) outbox(t *testing.T) []outboxRow {
	t.Helper()
	var rows []outboxRow
	if err := w.db.Select(&rows, `SELECT dedup_key, kind, mailbox_id, thread_id, from_addr, to_addrs, subject, body_text,
		headers, message_id FROM outbox WHERE kind = 'reply' ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestReplyAndNote(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			first := w.ingest(t, mail{from: "alice@customer.example", subject: "Broken\r\nBcc: evil@x.example", text: "help", messageID: "a1@customer.example"})
			conv := first.ConversationID
			w.ingest(t, mail{from: "alice@customer.example", subject: "more", text: "more", messageID: "a2@customer.example", inReplyTo: "a1@customer.example"})

			wr, err := w.s.AddReply(ctx, w.agentV(), conv, helpdesk.NewReply{Body: "Have you tried\r\nturning it off?"})
			if err != nil {
				t.Fatal(err)
			}
			out := w.outbox(t)
			if len(out) != 1 {
				t.Fatalf("outbox has %d rows", len(out))
			}
			o := out[0]
			wantSubject := fmt.Sprintf("Re: Broken Bcc: evil@x.example [#%d]", conv)
			if o.Kind != "reply" || o.From != "support1@example.com" || o.To != "alice@customer.example" || o.Subject != wantSubject ||
				o.BodyText != "Have you tried\nturning it off?" || o.ThreadID != wr.ThreadID || o.MailboxID != w.mb1 ||
				o.DedupKey != fmt.Sprintf("reply:%d", wr.ThreadID) || o.MessageID != wr.MessageID {
				t.Errorf("outbox row %+v (written %+v)", o, wr)
			}
			if o.MessageID != helpdesk.NewMailSigner(teststore.SecretKey).MessageID(o.DedupKey, o.From) {
				t.Errorf("message id %q not derived from the row", o.MessageID)
			}
			if want := "In-Reply-To: <a2@customer.example>\nReferences: <a1@customer.example> <a2@customer.example>"; o.Headers != want {
				t.Errorf("headers %q, want %q", o.Headers, want)
			}
			d, err := w.s.Conversation(ctx, w.agentV(), conv)
			if err != nil {
				t.Fatal(err)
			}
			r := d.Threads[len(d.Threads)-1]
			if r.Kind != "reply" || r.MessageID != o.MessageID || r.UserID == nil || *r.UserID != w.agent.ID || r.FromEmail != "support1@example.com" || r.InReplyTo != "a2@customer.example" {
				t.Errorf("reply thread %+v", r)
			}

			// A second reply references the first one too.
			if _, err := w.s.AddReply(ctx, w.agentV(), conv, helpdesk.NewReply{Body: "Any news?"}); err != nil {
				t.Fatal(err)
			}
			if out := w.outbox(t); len(out) != 2 || !strings.Contains(out[1].Headers, "<"+o.MessageID+">") || out[1].Subject != wantSubject {
				t.Errorf("second reply %+v", out)
			}

			// The customer's answer to our reply threads back by In-Reply-To
			// even with another subject.
			back := w.ingest(t, mail{from: "alice@customer.example", subject: "totally new subject", text: "thanks", inReplyTo: o.MessageID})
			if back.ConversationID != conv {
				t.Errorf("answer landed in conversation %d, want %d", back.ConversationID, conv)
			}

			// A note is a thread and never mail.
			n, err := w.s.AddNote(ctx, w.adminV(), conv, "customer is a VIP", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(w.outbox(t)) != 2 || n.MessageID != "" {
				t.Errorf("note made mail: %+v", w.outbox(t))
			}

			// Bad input changes nothing.
			before, _ := w.s.Conversation(ctx, w.adminV(), conv)
			for _, tc := range []struct {
				name string
				v    helpdesk.Viewer
				conv int64
				body string
				want error
			}{
				{"empty body", w.agentV(), conv, "  \n ", helpdesk.ErrInvalid},
				{"huge body", w.agentV(), conv, strings.Repeat("x", 200_001), helpdesk.ErrInvalid},
				{"other mailbox", w.otherV(), conv, "hi", helpdesk.ErrNotFound},
				{"unknown conversation", w.adminV(), 9999, "hi", helpdesk.ErrNotFound},
			} {
				if _, err := w.s.AddReply(ctx, tc.v, tc.conv, helpdesk.NewReply{Body: tc.body}); !errors.Is(err, tc.want) {
					t.Errorf("reply, %s: %v, want %v", tc.name, err, tc.want)
				}
				if _, err := w.s.AddNote(ctx, tc.v, tc.conv, tc.body, 0); !errors.Is(err, tc.want) {
					t.Errorf("note, %s: %v, want %v", tc.name, err, tc.want)
				}
			}
			after, _ := w.s.Conversation(ctx, w.adminV(), conv)
			if len(after.Threads) != len(before.Threads) || len(w.outbox(t)) != 2 {
				t.Errorf("bad input changed something: %d -> %d threads", len(before.Threads), len(after.Threads))
			}
		})
	}
}
