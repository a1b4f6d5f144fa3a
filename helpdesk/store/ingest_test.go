package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

func customerMsg(id, from, subject string) *helpdesk.IncomingMessage {
	key, _ := helpdesk.DedupKey(id, from, "Mon, 23 Nov 2026 10:00:00 +0000", subject, nil)
	return &helpdesk.IncomingMessage{
		MessageID: id, From: helpdesk.Address{Name: "Customer", Email: from},
		Subject: subject, Text: "Hello", DedupKey: key, Raw: []byte("Subject: " + subject + "\r\n\r\nHello"),
	}
}

func src(mailbox int64, uid uint32) helpdesk.MessageSource {
	return helpdesk.MessageSource{MailboxID: mailbox, Folder: "INBOX", UIDValidity: 7, UID: uid}
}

func TestIngestIsIdempotent(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			w := setupWorkspace(t, dialect)
			ctx := context.Background()
			msg := customerMsg("a@x", "c@customer.test", "Help")
			first, err := teststore.Ingest(ctx, w.s, src(w.mb1, 1), msg)
			if err != nil || first.Outcome != helpdesk.OutcomeNew {
				t.Fatalf("first ingest: %+v, %v", first, err)
			}
			for name, s := range map[string]helpdesk.MessageSource{
				"same UID again":              src(w.mb1, 1),
				"same mail under another UID": src(w.mb1, 2),
				"same mail in another folder": {MailboxID: w.mb1, Folder: "Sales", UIDValidity: 9, UID: 1},
			} {
				res, err := teststore.Ingest(ctx, w.s, s, customerMsg("a@x", "c@customer.test", "Help"))
				if err != nil || res.Outcome != helpdesk.OutcomeDuplicate || res.ThreadID != first.ThreadID {
					t.Fatalf("%s: %+v, %v; want a duplicate of thread %d", name, res, err, first.ThreadID)
				}
			}
			// A sender that reuses a Message-ID for a different mail does not lose it.
			reused, err := teststore.Ingest(ctx, w.s, src(w.mb1, 3), customerMsg("a@x", "c@customer.test", "Another question"))
			if err != nil || reused.Outcome != helpdesk.OutcomeNew {
				t.Fatalf("reused Message-ID with other content: %+v, %v; want new", reused, err)
			}
			// The same mail to another mailbox is that mailbox's own conversation.
			other, err := teststore.Ingest(ctx, w.s, src(w.mb2, 1), customerMsg("a@x", "c@customer.test", "Help"))
			if err != nil || other.Outcome != helpdesk.OutcomeNew {
				t.Fatalf("same mail, other mailbox: %+v, %v", other, err)
			}
			var threads int
			if err := w.db.Get(&threads, `SELECT COUNT(*) FROM threads`); err != nil || threads != 3 {
				t.Fatalf("%d threads (%v), want 3", threads, err)
			}
		})
	}
}

// Concurrent first mails from one new customer to several mailboxes all
// succeed and leave one customer row (the upsert is race-free).
func TestConcurrentIngestUpsertsOneCustomer(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			w := setupWorkspace(t, dialect)
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for i := range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					mb := []int64{w.mb1, w.mb2}[i%2]
					_, err := teststore.Ingest(context.Background(), w.s, src(mb, uint32(i+1)), customerMsg(fmt.Sprintf("m%d@x", i), "New.Customer@Example.test", "Hi"))
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("concurrent ingest failed: %v", err)
				}
			}
			var customers, threads int
			w.db.Get(&customers, `SELECT COUNT(*) FROM customers WHERE email = 'new.customer@example.test'`)
			w.db.Get(&threads, `SELECT COUNT(*) FROM threads`)
			if customers != 1 || threads != 40 {
				t.Fatalf("%d customer rows and %d threads; want 1 and 40", customers, threads)
			}
		})
	}
}

// A write with a fence older than the mailbox's current one changes nothing.
func TestStaleFenceWritesNothing(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			w := setupWorkspace(t, dialect)
			ctx := context.Background()
			if err := w.s.ClaimFence(ctx, w.mb1, 1); err != nil {
				t.Fatal(err)
			}
			if err := w.s.ClaimFence(ctx, w.mb1, 1); !errors.Is(err, helpdesk.ErrFenced) {
				t.Fatalf("claiming a taken fence: %v, want ErrFenced", err)
			}
			if err := w.s.ClaimFence(ctx, w.mb1, 2); err != nil { // a newer holder
				t.Fatal(err)
			}
			stale := src(w.mb1, 1)
			stale.Fence = 1
			checks := map[string]error{}
			h := w.s.FetchHandle(w.mb1, 1)
			_, checks["ingest"] = h.Ingest(ctx, stale, customerMsg("s@x", "c@customer.test", "Stale"))
			checks["quarantine"] = h.Quarantine(ctx, stale, []byte("raw"), 3, true, "bad")
			checks["progress"] = h.SaveProgress(ctx, "INBOX", 7, 99)
			checks["result"] = h.RecordResult(ctx, "INBOX", nil)
			checks["duplicates"] = h.RecordDuplicates(ctx, "INBOX", 7, []helpdesk.Duplicate{{UID: 5, DedupKey: "k"}})
			_, checks["run"] = h.StartRun(ctx, "schedule", "stale")
			checks["run progress"] = h.SaveRunProgress(ctx, helpdesk.RunProgress{Folder: "INBOX", Done: 500, Total: 3000, StartedAt: time.Now(), UpdatedAt: time.Now()})
			for what, err := range checks {
				if !errors.Is(err, helpdesk.ErrFenced) {
					t.Errorf("%s with a stale fence: %v, want ErrFenced", what, err)
				}
			}
			var rows int
			w.db.Get(&rows, `SELECT (SELECT COUNT(*) FROM threads) + (SELECT COUNT(*) FROM fetch_ledger) + (SELECT COUNT(*) FROM quarantine) + (SELECT COUNT(*) FROM fetch_state) + (SELECT COUNT(*) FROM fetch_runs) + (SELECT COUNT(*) FROM run_progress)`)
			if rows != 0 {
				t.Fatalf("stale writes left %d rows", rows)
			}
			current := src(w.mb1, 1)
			current.Fence = 2
			if _, err := teststore.Ingest(ctx, w.s, current, customerMsg("s@x", "c@customer.test", "Current")); err != nil {
				t.Fatalf("the current holder cannot write: %v", err)
			}
		})
	}
}

func TestThreadingRules(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			w := setupWorkspace(t, dialect)
			ctx := context.Background()
			ingest := func(uid uint32, msg *helpdesk.IncomingMessage) helpdesk.IngestResult {
				t.Helper()
				res, err := teststore.Ingest(ctx, w.s, src(w.mb1, uid), msg)
				if err != nil || res.Outcome != helpdesk.OutcomeNew {
					t.Fatalf("ingest uid %d: %+v %v", uid, res, err)
				}
				return res
			}
			first := ingest(1, customerMsg("q1@x", "alice@customer.test", "Broken login"))

			byRef := customerMsg("q2@x", "alice@customer.test", "Re: Broken login")
			byRef.InReplyTo = "q1@x"
			if got := ingest(2, byRef); got.ConversationID != first.ConversationID {
				t.Fatalf("reply by In-Reply-To went to conversation %d, want %d", got.ConversationID, first.ConversationID)
			}
			byRefs := customerMsg("q3@x", "bob@elsewhere.test", "Fwd")
			byRefs.References = []string{"unknown@x", "q2@x"}
			if got := ingest(3, byRefs); got.ConversationID != first.ConversationID {
				t.Fatalf("mail referencing a stored Message-ID went to %d, want %d", got.ConversationID, first.ConversationID)
			}
			token := fmt.Sprintf("[#%d]", first.ConversationID)
			if got := ingest(4, customerMsg("q4@x", "alice@customer.test", "Still broken "+token)); got.ConversationID != first.ConversationID {
				t.Fatalf("participant's %s token went to %d", token, got.ConversationID)
			}
			if got := ingest(5, customerMsg("q5@x", "stranger@evil.test", "About "+token)); got.ConversationID == first.ConversationID {
				t.Fatalf("a stranger quoting %s landed in someone else's conversation", token)
			}
			other, err := teststore.Ingest(ctx, w.s, src(w.mb2, 1), customerMsg("q6@x", "alice@customer.test", "Other mailbox "+token))
			if err != nil || other.ConversationID == first.ConversationID {
				t.Fatalf("a token must not cross mailboxes: %+v %v", other, err)
			}
		})
	}
}

// Assigning a conversation to an agent enqueues one "assigned to you" mail,
// also when the request is repeated; self-assignment enqueues nothing.
func TestAssignmentNotifiesOnce(t *testing.T) {
	w := setupWorkspace(t, "sqlite")
	ctx := context.Background()
	res, err := teststore.Ingest(ctx, w.s, src(w.mb1, 1), customerMsg("as@x", "c@customer.test", "Assign me"))
	if err != nil {
		t.Fatal(err)
	}
	agent := w.agent.ID
	for range 2 {
		if err := w.s.UpdateConversation(ctx, w.adminV(), res.ConversationID, helpdesk.ConversationChange{AssigneeID: &agent}); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	w.db.Get(&n, `SELECT COUNT(*) FROM outbox WHERE dedup_key LIKE 'notify:assigned:%' AND to_addrs = ?`, w.agent.Email)
	if n != 1 {
		t.Fatalf("%d assignment notifications for the agent, want 1", n)
	}
	self := w.admin.ID
	if err := w.s.UpdateConversation(ctx, w.adminV(), res.ConversationID, helpdesk.ConversationChange{AssigneeID: &self}); err != nil {
		t.Fatal(err)
	}
	w.db.Get(&n, `SELECT COUNT(*) FROM outbox WHERE dedup_key LIKE 'notify:assigned:%'`)
	if n != 1 {
		t.Fatalf("self-assignment enqueued a notification (%d rows)", n)
	}
}

// Only the newest KeptRuns runs of a mailbox are kept, and another
// mailbox's runs are left alone.
func TestOldRunsArePruned(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			w := setupWorkspace(t, dialect)
			ctx := context.Background()
			if err := w.s.ClaimFence(ctx, w.mb1, 1); err != nil {
				t.Fatal(err)
			}
			if err := w.s.ClaimFence(ctx, w.mb2, 1); err != nil {
				t.Fatal(err)
			}
			if _, err := w.s.FetchHandle(w.mb2, 1).StartRun(ctx, "schedule", "other"); err != nil {
				t.Fatal(err)
			}
			var last int64
			for range helpdesk.KeptRuns + 20 {
				id, err := w.s.FetchHandle(w.mb1, 1).StartRun(ctx, "idle", "test")
				if err != nil {
					t.Fatal(err)
				}
				last = id
			}
			runs, err := w.s.RecentRuns(ctx, w.mb1, 10*helpdesk.KeptRuns)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != helpdesk.KeptRuns || runs[0].ID != last {
				t.Fatalf("kept %d runs, newest %d; want the newest %d, ending with %d", len(runs), runs[0].ID, helpdesk.KeptRuns, last)
			}
			if other, _ := w.s.RecentRuns(ctx, w.mb2, 10); len(other) != 1 {
				t.Fatalf("the other mailbox kept %d runs, want 1", len(other))
			}
		})
	}
}
