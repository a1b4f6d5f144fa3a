package store_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// A batch writes its rows at once, yet a message sees the messages stored
// before it in the same batch: a second copy, another mail under the same
// UID, a reply by In-Reply-To and a [#N] token from a participant. Each case
// runs in a batch of its own, so that no other lookup writes the rows first.
func TestBatchSeesItsOwnMessages(t *testing.T) {
	first := func(n int, _ int64) *helpdesk.IncomingMessage {
		return customerMsg(fmt.Sprintf("first-%d@x", n), "alice@customer.test", fmt.Sprintf("Printer %d broken", n))
	}
	cases := map[string]struct {
		second                       func(n int, conv int64) *helpdesk.IncomingMessage
		sameUID, sameConv, duplicate bool
	}{
		"a copy under another UID": {second: first, duplicate: true, sameConv: true},
		"another mail under the same UID": {sameUID: true, duplicate: true, sameConv: true,
			second: func(n int, _ int64) *helpdesk.IncomingMessage {
				return customerMsg(fmt.Sprintf("other-%d@x", n), "bob@customer.test", "Other")
			}},
		"a reply by In-Reply-To": {sameConv: true,
			second: func(n int, _ int64) *helpdesk.IncomingMessage {
				reply := customerMsg(fmt.Sprintf("reply-%d@x", n), "bob@customer.test", "Re: broken")
				reply.InReplyTo = fmt.Sprintf("first-%d@x", n)
				return reply
			}},
		"a [#N] token from a participant": {sameConv: true,
			second: func(n int, conv int64) *helpdesk.IncomingMessage {
				return customerMsg(fmt.Sprintf("token-%d@x", n), "alice@customer.test", fmt.Sprintf("Still broken [#%d]", conv))
			}},
		"a [#N] token from a stranger": {
			second: func(n int, conv int64) *helpdesk.IncomingMessage {
				return customerMsg(fmt.Sprintf("stranger-%d@x", n), "mallory@evil.test", fmt.Sprintf("Still broken [#%d]", conv))
			}},
	}
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			w := setupWorkspace(t, dialect)
			ctx := context.Background()
			n := 0
			for name, c := range cases {
				n++
				b, err := w.s.FetchHandle(w.mb1, 0).BeginIngest(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				uid := uint32(2 * n)
				one, err := b.Ingest(ctx, src(w.mb1, uid), first(n, 0))
				if err != nil || one.Outcome != helpdesk.OutcomeNew {
					t.Fatalf("%s: first message: %+v, %v", name, one, err)
				}
				if !c.sameUID {
					uid++
				}
				two, err := b.Ingest(ctx, src(w.mb1, uid), c.second(n, one.ConversationID))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if err := b.Commit(ctx); err != nil {
					t.Fatalf("%s: commit: %v", name, err)
				}
				if dup := two.Outcome == helpdesk.OutcomeDuplicate; dup != c.duplicate || (dup && two.ThreadID != one.ThreadID) {
					t.Errorf("%s: %+v; duplicate of thread %d: %v", name, two, one.ThreadID, c.duplicate)
				}
				var conv int64
				if err := w.db.Get(&conv, `SELECT conversation_id FROM threads WHERE id = $1`, two.ThreadID); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if (conv == one.ConversationID) != c.sameConv {
					t.Errorf("%s: in conversation %d; first message's is %d, want the same: %v", name, conv, one.ConversationID, c.sameConv)
				}
			}
		})
	}
}

// Many messages of one batch, small and large and with attachments, each
// get their own rows: nothing of one message lands on another's.
func TestBatchStoresEachMessageWhole(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			w := setupWorkspace(t, dialect)
			ctx := context.Background()
			b, err := w.s.FetchHandle(w.mb1, 0).BeginIngest(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Rollback()
			threadText := map[int64]string{}
			for i := range 40 {
				msg := customerMsg(fmt.Sprintf("m%d@x", i), fmt.Sprintf("c%d@customer.test", i), fmt.Sprintf("Question %d", i))
				msg.Text = fmt.Sprintf("text of %d", i)
				if i%10 == 3 { // larger than a statement over arrays takes
					msg.Text += strings.Repeat(" padding", 50_000)
				}
				msg.Raw = []byte("raw of " + msg.Text)
				msg.Attachments = []helpdesk.Attachment{{Filename: fmt.Sprintf("a%d.txt", i), ContentType: "text/plain", Data: []byte(fmt.Sprintf("data of %d", i))}}
				res, err := b.Ingest(ctx, src(w.mb1, uint32(i+1)), msg)
				if err != nil || res.Outcome != helpdesk.OutcomeNew {
					t.Fatalf("message %d: %+v, %v", i, res, err)
				}
				threadText[res.ThreadID] = msg.Text
			}
			if err := b.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			var rows []struct {
				ID       int64  `db:"id"`
				Text     string `db:"body_text"`
				Email    string `db:"from_email"`
				Filename string `db:"filename"`
				Data     []byte `db:"data"`
				Gzipped  []byte `db:"gzipped"`
				Outcome  string `db:"outcome"`
				Notified int    `db:"notified"`
			}
			err = w.db.Select(&rows, `SELECT t.id, t.body_text, t.from_email, a.filename, a.data, r.gzipped, l.outcome,
				(SELECT COUNT(*) FROM outbox o WHERE o.thread_id = t.id) AS notified
				FROM threads t JOIN attachments a ON a.thread_id = t.id JOIN raw_messages r ON r.id = t.raw_id
				JOIN fetch_ledger l ON l.thread_id = t.id`)
			if err != nil || len(rows) != 40 {
				t.Fatalf("%d stored messages (%v), want 40", len(rows), err)
			}
			for _, r := range rows {
				want, ok := threadText[r.ID]
				n := strings.TrimSuffix(strings.TrimPrefix(r.Email, "c"), "@customer.test")
				if !ok || r.Text != want || !strings.HasPrefix(want, "text of "+n) ||
					r.Filename != "a"+n+".txt" || string(r.Data) != "data of "+n ||
					gunzip(t, r.Gzipped) != "raw of "+want || r.Outcome != "new" || r.Notified != 2 { // the admin and the agent of mailbox 1
					t.Fatalf("thread %d from %s is not whole: text %.20q, attachment %s %q, outcome %s, %d notifications",
						r.ID, r.Email, r.Text, r.Filename, r.Data, r.Outcome, r.Notified)
				}
			}
		})
	}
}

func gunzip(t *testing.T, gz []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBatchIndexesAndAnnouncesInOrder: a batch collects the search rows of
// the conversations it starts and its events, yet a reply in the same
// batch to a conversation it started adds its words to that
// conversation's search row, and the events come out in message order,
// each conversation's before its thread's.
func TestBatchIndexesAndAnnouncesInOrder(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			w := setupWorkspace(t, dialect)
			ctx := context.Background()
			before, err := w.s.LastEventID(ctx)
			if err != nil {
				t.Fatal(err)
			}
			first := customerMsg("toner@x", "alice@customer.test", "Drucker")
			first.Text = "Die Tonerkartusche ist leer."
			other := customerMsg("scanner@x", "bob@customer.test", "Scanner")
			other.Text = "Das Scannerglas ist zerkratzt."
			reply := customerMsg("reply@x", "alice@customer.test", "Re: Drucker")
			reply.Text = "Und die Garantieverlängerung?"
			reply.InReplyTo = "toner@x"
			b, err := w.s.FetchHandle(w.mb1, 0).BeginIngest(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var res []helpdesk.IngestResult
			for i, m := range []*helpdesk.IncomingMessage{first, other, reply} {
				r, err := b.Ingest(ctx, src(w.mb1, uint32(i+1)), m)
				if err != nil || r.Outcome != helpdesk.OutcomeNew {
					t.Fatalf("message %d: %+v, %v", i, r, err)
				}
				res = append(res, r)
			}
			if err := b.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			a, o := res[0].ConversationID, res[1].ConversationID
			if res[2].ConversationID != a {
				t.Fatalf("the reply went to conversation %d, not %d", res[2].ConversationID, a)
			}
			for q, want := range map[string][]int64{"tonerkartusche": {a}, "garantieverlangerung": {a}, "scannerglas": {o}} {
				if got := ids(searchList(t, w, q)); !eqIDs(got, want) {
					t.Errorf("%q: got %v, want %v", q, got, want)
				}
			}
			evs, err := w.s.EventsAfter(ctx, before, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range evs {
				s := fmt.Sprintf("%s@%d", ev.Name, ev.ConversationID)
				if ev.ThreadID != nil {
					s += fmt.Sprintf("#%d", *ev.ThreadID)
				}
				got = append(got, s)
			}
			want := []string{
				fmt.Sprintf("conversation.created@%d", a), fmt.Sprintf("thread.created@%d#%d", a, res[0].ThreadID),
				fmt.Sprintf("conversation.created@%d", o), fmt.Sprintf("thread.created@%d#%d", o, res[1].ThreadID),
				fmt.Sprintf("conversation.updated@%d", a), fmt.Sprintf("thread.created@%d#%d", a, res[2].ThreadID),
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("events %v; want %v", got, want)
			}
		})
	}
}
