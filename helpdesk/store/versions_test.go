package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

func (w *workspace) version(t *testing.T, conv int64) int64 {
	t.Helper()
	d, err := w.s.Conversation(context.Background(), w.adminV(), conv)
	if err != nil {
		t.Fatal(err)
	}
	return d.Version
}

// stale asserts err refuses a change because exactly these fields changed,
// by these people ("" for the customer).
func stale(t *testing.T, err error, want map[string]string) {
	t.Helper()
	var se *helpdesk.StaleError
	if !errors.As(err, &se) || !errors.Is(err, helpdesk.ErrStale) {
		t.Fatalf("got %v, want a stale error for %v", err, want)
	}
	got := map[string]string{}
	for _, c := range se.Changes {
		got[c.Field] = c.By
		if (c.ByID == nil) != (c.By == "") {
			t.Errorf("change %+v: name and id disagree", c)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("changes %+v, want %v", se.Changes, want)
	}
	for f, by := range want {
		if b, ok := got[f]; !ok || b != by {
			t.Errorf("changes %+v, want %v", se.Changes, want)
		}
	}
}

func TestVersionRefusesLostUpdate(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			conv := w.ingest(t, mail{from: "c@customer.example", subject: "Printer", text: "jammed"}).ConversationID
			seen := w.version(t, conv)
			closed, active := helpdesk.StatusClosed, helpdesk.StatusActive

			if err := w.s.UpdateConversation(ctx, w.adminV(), conv, helpdesk.ConversationChange{Status: &closed, Seen: seen}); err != nil {
				t.Fatal(err)
			}
			if v := w.version(t, conv); v != seen+1 {
				t.Fatalf("version %d after a change, want %d", v, seen+1)
			}
			// The agent's older page still says active and sets the assignee.
			me := w.agent.ID
			err := w.s.UpdateConversation(ctx, w.agentV(), conv, helpdesk.ConversationChange{Status: &active, AssigneeID: &me, Seen: seen})
			stale(t, err, map[string]string{"status": "admin"})
			d, _ := w.s.Conversation(ctx, w.adminV(), conv)
			if d.Status != closed || d.AssigneeID != nil || d.Version != seen+1 {
				t.Errorf("refused change wrote: %+v", d.ConversationSummary)
			}
			// Only the assignee: it did not change since, so it goes through.
			if err := w.s.UpdateConversation(ctx, w.agentV(), conv, helpdesk.ConversationChange{AssigneeID: &me, Seen: seen}); err != nil {
				t.Fatal(err)
			}
			// Setting the status it already has is no conflict either.
			if err := w.s.UpdateConversation(ctx, w.agentV(), conv, helpdesk.ConversationChange{Status: &closed, Seen: seen}); err != nil {
				t.Fatal(err)
			}
			// Now the assignee changed since seen.
			none := int64(0)
			err = w.s.UpdateConversation(ctx, w.adminV(), conv, helpdesk.ConversationChange{AssigneeID: &none, Seen: seen})
			stale(t, err, map[string]string{"assignee": "agent"})
			// Without a version the last write wins.
			if err := w.s.UpdateConversation(ctx, w.adminV(), conv, helpdesk.ConversationChange{Status: &active}); err != nil {
				t.Fatal(err)
			}
			d, _ = w.s.Conversation(ctx, w.adminV(), conv)
			if d.Status != active || d.AssigneeID == nil || *d.AssigneeID != me || d.Version != seen+3 {
				t.Errorf("after the changes: %+v version %d", d.ConversationSummary, d.Version)
			}
			// A version the conversation never had is bad input.
			err = w.s.UpdateConversation(ctx, w.adminV(), conv, helpdesk.ConversationChange{Status: &closed, Seen: d.Version + 1})
			if !errors.Is(err, helpdesk.ErrInvalid) {
				t.Errorf("future version: %v", err)
			}
		})
	}
}

func TestVersionRefusesDoubleAnswer(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			first := w.ingest(t, mail{from: "c@customer.example", subject: "Refund", text: "please", messageID: "r1@customer.example"})
			conv := first.ConversationID
			seen := w.version(t, conv)

			if _, err := w.s.AddReply(ctx, w.adminV(), conv, helpdesk.NewReply{Body: "Refunded.", Seen: seen}); err != nil {
				t.Fatal(err)
			}
			_, err := w.s.AddReply(ctx, w.agentV(), conv, helpdesk.NewReply{Body: "Will refund.", Seen: seen})
			stale(t, err, map[string]string{"messages": "admin"})
			_, err = w.s.AddNote(ctx, w.agentV(), conv, "I refund", seen)
			stale(t, err, map[string]string{"messages": "admin"})
			if n := len(w.outbox(t)); n != 1 {
				t.Fatalf("%d replies queued, want 1", n)
			}
			// Replying set pending, by default.
			d, _ := w.s.Conversation(ctx, w.agentV(), conv)
			if d.Status != helpdesk.StatusPending {
				t.Errorf("status %s after a reply, want pending", d.Status)
			}

			// Seen the admin's reply: the agent's goes out, and closes.
			seen = d.Version
			if _, err := w.s.AddReply(ctx, w.agentV(), conv, helpdesk.NewReply{Body: "Done, closing.", Seen: seen, Status: helpdesk.StatusClosed}); err != nil {
				t.Fatal(err)
			}
			// The agent's own reply is nothing new for the agent.
			if _, err := w.s.AddNote(ctx, w.agentV(), conv, "closed it", seen); err != nil {
				t.Fatal(err)
			}
			// A customer message since refuses replies and notes.
			seen = w.version(t, conv)
			w.ingest(t, mail{from: "c@customer.example", subject: "Re: Refund", text: "not yet!", inReplyTo: "r1@customer.example"})
			_, err = w.s.AddReply(ctx, w.agentV(), conv, helpdesk.NewReply{Body: "It is.", Seen: seen})
			stale(t, err, map[string]string{"messages": ""})
			d, _ = w.s.Conversation(ctx, w.agentV(), conv)
			if d.Status != helpdesk.StatusActive || d.Version <= seen {
				t.Errorf("customer message: status %s version %d (seen %d)", d.Status, d.Version, seen)
			}
			// Reading it, the agent may answer; a bad status is refused with the body.
			_, err = w.s.AddReply(ctx, w.agentV(), conv, helpdesk.NewReply{Body: " ", Seen: d.Version, Status: "later"})
			var ve *helpdesk.ValidationError
			if !errors.As(err, &ve) || ve.Fields["status"] == "" || ve.Fields["body"] == "" {
				t.Errorf("bad reply: %v", err)
			}
			if _, err := w.s.AddReply(ctx, w.agentV(), conv, helpdesk.NewReply{Body: "It is now.", Seen: d.Version}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVersionOfTags(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			conv := w.ingest(t, mail{from: "c@customer.example", subject: "Tags", text: "x"}).ConversationID
			seen := w.version(t, conv)
			if err := w.s.AddTag(ctx, w.adminV(), conv, "vip", seen); err != nil {
				t.Fatal(err)
			}
			stale(t, w.s.RemoveTag(ctx, w.agentV(), conv, "vip", seen), map[string]string{"tags": "admin"})
			stale(t, w.s.AddTag(ctx, w.agentV(), conv, "billing", seen), map[string]string{"tags": "admin"})
			// Tagging twice changes nothing, so no new version.
			v := w.version(t, conv)
			if err := w.s.AddTag(ctx, w.agentV(), conv, "vip", v); err != nil {
				t.Fatal(err)
			}
			if w.version(t, conv) != v {
				t.Errorf("a no-op tag made a version")
			}
			// A status change is not a tag change.
			closed := helpdesk.StatusClosed
			if err := w.s.UpdateConversation(ctx, w.adminV(), conv, helpdesk.ConversationChange{Status: &closed}); err != nil {
				t.Fatal(err)
			}
			if err := w.s.RemoveTag(ctx, w.agentV(), conv, "vip", v); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Two agents answer the same version at the same moment: one reply goes out.
func TestVersionConcurrentReplies(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			conv := w.ingest(t, mail{from: "c@customer.example", subject: "Race", text: "x"}).ConversationID
			seen := w.version(t, conv)
			errs := make(chan error, 2)
			for _, v := range []helpdesk.Viewer{w.adminV(), w.agentV()} {
				go func() {
					_, err := w.s.AddReply(ctx, v, conv, helpdesk.NewReply{Body: "answer", Seen: seen})
					errs <- err
				}()
			}
			var ok, refused int
			for range 2 {
				switch err := <-errs; {
				case err == nil:
					ok++
				case errors.Is(err, helpdesk.ErrStale):
					refused++
				default:
					t.Fatal(err)
				}
			}
			if ok != 1 || refused != 1 || len(w.outbox(t)) != 1 {
				t.Errorf("%d sent, %d refused, %d queued; want one of each", ok, refused, len(w.outbox(t)))
			}
		})
	}
}

func TestReplyDeliveryAndRetry(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			conv := w.ingest(t, mail{from: "c@customer.example", subject: "Delivery", text: "x"}).ConversationID
			wr, err := w.s.AddReply(ctx, w.agentV(), conv, helpdesk.NewReply{Body: "on its way"})
			if err != nil {
				t.Fatal(err)
			}
			delivery := func() helpdesk.Delivery {
				t.Helper()
				d, err := w.s.Conversation(ctx, w.agentV(), conv)
				if err != nil {
					t.Fatal(err)
				}
				for _, th := range d.Threads {
					if th.ID == wr.ThreadID && th.Delivery != nil {
						return *th.Delivery
					}
					if th.Kind != "reply" && th.Delivery != nil {
						t.Errorf("%s thread has a delivery", th.Kind)
					}
				}
				t.Fatal("reply has no delivery")
				return helpdesk.Delivery{}
			}
			if d := delivery(); d.Status != helpdesk.DeliveryQueued {
				t.Errorf("delivery %+v, want queued", d)
			}
			if err := w.s.RetryReply(ctx, w.agentV(), conv, wr.ThreadID); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("retry of a queued reply: %v", err)
			}
			if _, err := w.db.Exec(w.db.Rebind(`UPDATE outbox SET status = 'failed', last_error = ? WHERE thread_id = ?`),
				"550 mailbox unavailable", wr.ThreadID); err != nil {
				t.Fatal(err)
			}
			if d := delivery(); d.Status != helpdesk.DeliveryFailed || d.Error != "550 mailbox unavailable" {
				t.Errorf("delivery %+v, want failed with the reason", d)
			}
			// Only agents of the mailbox may retry.
			if err := w.s.RetryReply(ctx, w.otherV(), conv, wr.ThreadID); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("retry by an agent of another mailbox: %v", err)
			}
			if err := w.s.RetryReply(ctx, w.agentV(), conv, wr.ThreadID); err != nil {
				t.Fatal(err)
			}
			if d := delivery(); d.Status != helpdesk.DeliveryQueued {
				t.Errorf("delivery %+v after retry, want queued", d)
			}
		})
	}
}
