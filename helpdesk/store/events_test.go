package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// TestEventsCommitInIDOrder: while agents write concurrently, a reader
// that keeps reading the events after the last id it has seen (as each
// web process does) sees every event: no event commits with an id below
// one already read. WatchEvents signals the reader's wake-ups.
func TestEventsCommitInIDOrder(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			w := setupWorkspace(t, dialect)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			const writers, notes = 6, 25
			convs := make([]int64, writers)
			for i := range convs {
				convs[i] = w.ingest(t, mail{from: fmt.Sprintf("c%d@customer.example", i), subject: "Busy", text: "hi"}).ConversationID
			}
			start, err := w.s.LastEventID(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wake := w.s.WatchEvents(ctx)

			var wg sync.WaitGroup
			for _, conv := range convs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range notes {
						if _, err := w.s.AddNote(ctx, w.adminV(), conv, "note", 0); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()

			var seen []int64
			last := start
			read := func() {
				evs, err := w.s.EventsAfter(ctx, last, 1000)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					seen = append(seen, ev.ID)
					last = ev.ID
				}
			}
			for finished := false; !finished; {
				select {
				case <-wake:
				case <-done:
					finished = true
				}
				read()
			}
			read()
			var all []int64
			if err := w.db.Select(&all, w.db.Rebind(`SELECT id FROM events WHERE id > ? ORDER BY id`), start); err != nil {
				t.Fatal(err)
			}
			if len(all) != writers*notes*2 {
				t.Fatalf("%d events stored; want %d (conversation.updated and thread.created per note)", len(all), writers*notes*2)
			}
			if !slices.Equal(seen, all) {
				t.Fatalf("the reader saw %d of %d events: an event committed below an id already read", len(seen), len(all))
			}
		})
	}
}

// TestEventsOfEachChange: each change writes its events in its own
// transaction, a failed change none.
func TestEventsOfEachChange(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			w := setupWorkspace(t, dialect)
			ctx := context.Background()
			res := w.ingest(t, mail{from: "alice@customer.example", subject: "Hello", text: "hi"})
			again := w.ingest(t, mail{from: "alice@customer.example", subject: "Re: Hello", text: "again", inReplyTo: "msg-1@customer.example"})
			reply, err := w.s.AddReply(ctx, w.agentV(), res.ConversationID, helpdesk.NewReply{Body: "answer"})
			if err != nil {
				t.Fatal(err)
			}
			status := helpdesk.StatusClosed
			if err := w.s.UpdateConversation(ctx, w.agentV(), res.ConversationID, helpdesk.ConversationChange{Status: &status}); err != nil {
				t.Fatal(err)
			}
			if err := w.s.AddTag(ctx, w.agentV(), res.ConversationID, "vip", 0); err != nil {
				t.Fatal(err)
			}
			if err := w.s.RemoveTag(ctx, w.agentV(), res.ConversationID, "vip", 0); err != nil {
				t.Fatal(err)
			}
			bad := "bogus"
			if err := w.s.UpdateConversation(ctx, w.agentV(), res.ConversationID, helpdesk.ConversationChange{Status: &bad}); err == nil {
				t.Fatal("a bogus status was accepted")
			}
			evs, err := w.s.EventsAfter(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range evs {
				if ev.ConversationID != res.ConversationID || ev.MailboxID != w.mb1 {
					t.Fatalf("event %+v: not of conversation %d in mailbox %d", ev, res.ConversationID, w.mb1)
				}
				s := ev.Name
				if ev.ThreadID != nil {
					s += fmt.Sprintf("#%d", *ev.ThreadID)
				}
				got = append(got, s)
			}
			want := []string{
				"conversation.created", fmt.Sprintf("thread.created#%d", res.ThreadID),
				"conversation.updated", fmt.Sprintf("thread.created#%d", again.ThreadID),
				"conversation.updated", fmt.Sprintf("thread.created#%d", reply.ThreadID),
				"conversation.updated", "conversation.updated", "conversation.updated",
			}
			if !slices.Equal(got, want) {
				t.Fatalf("events %v; want %v", got, want)
			}
			// Pruning keeps what is newer than the limit.
			if n, err := w.s.DeleteEventsBefore(ctx, evs[0].At.Add(-time.Hour)); err != nil || n != 0 {
				t.Fatalf("pruned %d newer events: %v", n, err)
			}
			if n, err := w.s.DeleteEventsBefore(ctx, time.Now().Add(time.Hour)); err != nil || n != int64(len(evs)) {
				t.Fatalf("pruned %d of %d older events: %v", n, len(evs), err)
			}
		})
	}
}
