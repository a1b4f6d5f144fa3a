package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// rows reads one column of rows of the merge's tables, sorted.
func (w *workspace) rows(t *testing.T, query string, args ...any) []string {
	t.Helper()
	var out []string
	if err := w.db.Select(&out, w.db.Rebind(query), args...); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func (w *workspace) threadIDs(t *testing.T) []string {
	return w.rows(t, "SELECT CAST(id AS TEXT) || ':' || CAST(conversation_id AS TEXT) FROM threads")
}

func TestMergeMovesThreadsParticipantsAndTags(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			from := w.ingest(t, mail{from: "ann@customer.example", subject: "Printer", text: "jammed", messageID: "p1@customer.example"}).ConversationID
			w.ingest(t, mail{from: "ann@customer.example", subject: "Re: Printer", text: "still", inReplyTo: "p1@customer.example"})
			into := w.ingest(t, mail{from: "ann@customer.example", subject: "Printer again", text: "now it smokes"}).ConversationID
			if _, err := w.s.AddNote(ctx, w.agentV(), from, "called her", 0); err != nil {
				t.Fatal(err)
			}
			for conv, tag := range map[int64]string{from: "hardware", into: "urgent"} {
				if err := w.s.AddTag(ctx, w.agentV(), conv, tag, 0); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.s.AddTag(ctx, w.agentV(), from, "urgent", 0); err != nil {
				t.Fatal(err)
			}
			w.db.MustExec(w.db.Rebind("INSERT INTO conversation_participants (conversation_id, email) VALUES (?, ?)"), from, "bob@customer.example")
			before := w.threadIDs(t)
			fromV, intoV := w.version(t, from), w.version(t, into)
			lastEvent, err := w.s.LastEventID(ctx)
			if err != nil {
				t.Fatal(err)
			}

			if err := w.s.MergeConversation(ctx, w.agentV(), from, into, 0); err != nil {
				t.Fatal(err)
			}

			after := w.threadIDs(t)
			if len(after) != len(before) || len(before) != 4 {
				t.Fatalf("threads before %v, after %v", before, after)
			}
			if n := w.rows(t, "SELECT CAST(id AS TEXT) FROM threads WHERE conversation_id = ?", into); len(n) != 4 {
				t.Errorf("target has threads %v, want all 4", n)
			}
			if got := w.rows(t, "SELECT email FROM conversation_participants WHERE conversation_id = ?", into); fmt.Sprint(got) != "[ann@customer.example bob@customer.example support@example.com]" {
				t.Errorf("target participants %v", got)
			}
			if got := w.rows(t, "SELECT email FROM conversation_participants WHERE conversation_id = ?", from); len(got) != 0 {
				t.Errorf("merged one keeps participants %v", got)
			}
			d, err := w.s.Conversation(ctx, w.agentV(), into)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(d.Tags) != "[hardware urgent]" || d.Version != intoV+1 || len(d.Threads) != 4 {
				t.Errorf("target: tags %v, version %d (was %d), %d threads", d.Tags, d.Version, intoV, len(d.Threads))
			}
			if got := w.rows(t, "SELECT CAST(tag_id AS TEXT) FROM conversation_tags WHERE conversation_id = ?", from); len(got) != 0 {
				t.Errorf("merged one keeps tags %v", got)
			}
			var merged *helpdesk.Merged
			if _, err := w.s.Conversation(ctx, w.agentV(), from); !errors.As(err, &merged) || merged.Into != into || !errors.Is(err, helpdesk.ErrNotFound) {
				t.Fatalf("merged conversation: %v", err)
			}
			if v := w.rows(t, "SELECT CAST(version AS TEXT) FROM conversations WHERE id = ?", from); fmt.Sprint(v) != fmt.Sprintf("[%d]", fromV+1) {
				t.Errorf("merged version %v, want %d", v, fromV+1)
			}
			evs, err := w.s.EventsAfter(ctx, lastEvent, 10)
			if err != nil {
				t.Fatal(err)
			}
			var updated []int64
			for _, e := range evs {
				if e.Name == helpdesk.EventConversationUpdated {
					updated = append(updated, e.ConversationID)
				}
			}
			slices.Sort(updated)
			if fmt.Sprint(updated) != fmt.Sprint([]int64{from, into}) {
				t.Errorf("updated events for %v, want %d and %d", updated, from, into)
			}

			// Gone from lists and counts; changes to it are refused.
			l, err := w.s.Conversations(ctx, w.agentV(), helpdesk.ConversationFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if !eqIDs(ids(l), []int64{into}) || l.Counts[helpdesk.StatusActive] != 1 {
				t.Errorf("list %v, counts %v", ids(l), l.Counts)
			}
			if err := w.s.AddTag(ctx, w.agentV(), from, "x", 0); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("tagging a merged conversation: %v", err)
			}
			if err := w.s.MergeConversation(ctx, w.agentV(), from, into, 0); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("merging it again: %v", err)
			}
		})
	}
}

func TestMergedConversationThreadsIntoTarget(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			from := w.ingest(t, mail{from: "ann@customer.example", subject: "Printer", text: "jammed", messageID: "old@customer.example"}).ConversationID
			middle := w.ingest(t, mail{from: "ann@customer.example", subject: "Printer 2", text: "jammed"}).ConversationID
			into := w.ingest(t, mail{from: "ann@customer.example", subject: "Printer 3", text: "jammed"}).ConversationID
			// A chain: from into middle, then middle into into.
			if err := w.s.MergeConversation(ctx, w.adminV(), from, middle, 0); err != nil {
				t.Fatal(err)
			}
			if err := w.s.MergeConversation(ctx, w.adminV(), middle, into, 0); err != nil {
				t.Fatal(err)
			}
			var merged *helpdesk.Merged
			if _, err := w.s.Conversation(ctx, w.adminV(), from); !errors.As(err, &merged) || merged.Into != into {
				t.Fatalf("first merged conversation points at %v, want %d", err, into)
			}

			byRefs := w.ingest(t, mail{from: "ann@customer.example", subject: "Re: Printer", text: "hello?", inReplyTo: "old@customer.example"})
			if byRefs.ConversationID != into {
				t.Errorf("reply by References went to %d, want %d", byRefs.ConversationID, into)
			}
			byToken := w.ingest(t, mail{from: "ann@customer.example", subject: fmt.Sprintf("Re: [#%d] Printer", from), text: "and?"})
			if byToken.ConversationID != into {
				t.Errorf("reply by [#%d] went to %d, want %d", from, byToken.ConversationID, into)
			}
			stranger := w.ingest(t, mail{from: "eve@elsewhere.example", subject: fmt.Sprintf("Re: [#%d] Printer", from), text: "me too"})
			if stranger.ConversationID == into {
				t.Error("a stranger's [#N] threaded into the target")
			}
		})
	}
}

func TestMergeRefusals(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			a := w.ingest(t, mail{from: "ann@customer.example", subject: "A", text: "a"}).ConversationID
			b := w.ingest(t, mail{from: "ann@customer.example", subject: "B", text: "b"}).ConversationID
			other := w.ingest(t, mail{mailbox: w.mb2, from: "ann@customer.example", subject: "C", text: "c"}).ConversationID
			va, vb := w.version(t, a), w.version(t, b)

			// The agent of mailbox 2 sees neither of mailbox 1's.
			if err := w.s.MergeConversation(ctx, w.otherV(), a, b, 0); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("agent without the mailbox: %v", err)
			}
			// The agent of mailbox 1 does not see mailbox 2's: not found,
			// whichever side it is on.
			if err := w.s.MergeConversation(ctx, w.agentV(), a, other, 0); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("into another mailbox's conversation: %v", err)
			}
			if err := w.s.MergeConversation(ctx, w.agentV(), other, a, 0); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("from another mailbox's conversation: %v", err)
			}
			// An admin sees both, but mailboxes do not mix.
			if err := w.s.MergeConversation(ctx, w.adminV(), a, other, 0); !errors.Is(err, helpdesk.ErrInvalid) {
				t.Errorf("across mailboxes: %v", err)
			}
			if err := w.s.MergeConversation(ctx, w.adminV(), a, a, 0); !errors.Is(err, helpdesk.ErrInvalid) {
				t.Errorf("into itself: %v", err)
			}
			if err := w.s.MergeConversation(ctx, w.adminV(), a, 999999, 0); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("into a missing one: %v", err)
			}
			if w.version(t, a) != va || w.version(t, b) != vb {
				t.Error("a refused merge changed a version")
			}
		})
	}
}

func TestCustomerSeesOnlyVisibleMailboxes(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			first := w.ingest(t, mail{from: "ann@customer.example", name: "Ann", subject: "A", text: "a"})
			second := w.ingest(t, mail{from: "ann@customer.example", name: "Ann Smith", subject: "B", text: "b"}).ConversationID
			elsewhere := w.ingest(t, mail{mailbox: w.mb2, from: "ann@customer.example", name: "Annie", subject: "C", text: "c"}).ConversationID
			customerID := mustConversation(t, w, first.ConversationID).CustomerID

			convIDs := func(cu *helpdesk.Customer) []int64 {
				var out []int64
				for _, c := range cu.Conversations {
					out = append(out, c.ID)
				}
				return out
			}
			cu, err := w.s.Customer(ctx, w.agentV(), customerID)
			if err != nil {
				t.Fatal(err)
			}
			if cu.Email != "ann@customer.example" || !eqIDs(convIDs(cu), []int64{second, first.ConversationID}) {
				t.Errorf("agent of mailbox 1: %s %v", cu.Email, convIDs(cu))
			}
			if fmt.Sprint(cu.Names) != "[Ann Ann Smith]" {
				t.Errorf("names %v: not the ones of other mailboxes", cu.Names)
			}
			cu, err = w.s.Customer(ctx, w.adminV(), customerID)
			if err != nil {
				t.Fatal(err)
			}
			if !eqIDs(convIDs(cu), []int64{elsewhere, second, first.ConversationID}) {
				t.Errorf("admin: %v", convIDs(cu))
			}
			// Merged conversations are not listed.
			if err := w.s.MergeConversation(ctx, w.agentV(), first.ConversationID, second, 0); err != nil {
				t.Fatal(err)
			}
			cu, err = w.s.Customer(ctx, w.agentV(), customerID)
			if err != nil {
				t.Fatal(err)
			}
			if !eqIDs(convIDs(cu), []int64{second}) {
				t.Errorf("after the merge: %v", convIDs(cu))
			}
			// A customer who never wrote to an agent's mailboxes is not found.
			bob := w.ingest(t, mail{mailbox: w.mb2, from: "bob@customer.example", subject: "D", text: "d"})
			if _, err := w.s.Customer(ctx, w.agentV(), mustConversation(t, w, bob.ConversationID).CustomerID); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("customer of another mailbox: %v", err)
			}
			if _, err := w.s.Customer(ctx, w.adminV(), 999999); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("missing customer: %v", err)
			}
		})
	}
}

func mustConversation(t *testing.T, w *workspace, id int64) *helpdesk.ConversationDetail {
	t.Helper()
	d, err := w.s.Conversation(context.Background(), w.adminV(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestMergeRefusesStaleVersion: a merge made on a version of the merged
// conversation older than a change to it is refused and moves nothing;
// on the current version (or with none given) it goes through.
func TestMergeRefusesStaleVersion(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			from := w.ingest(t, mail{from: "ann@customer.example", subject: "A", text: "a"}).ConversationID
			into := w.ingest(t, mail{from: "ann@customer.example", subject: "B", text: "b"}).ConversationID
			seen := w.version(t, from)
			closed := helpdesk.StatusClosed
			if err := w.s.UpdateConversation(ctx, w.adminV(), from, helpdesk.ConversationChange{Status: &closed}); err != nil {
				t.Fatal(err)
			}
			before, intoV := w.threadIDs(t), w.version(t, into)

			err := w.s.MergeConversation(ctx, w.agentV(), from, into, seen)
			var se *helpdesk.StaleError
			if !errors.As(err, &se) || len(se.Changes) != 1 || se.Changes[0].Field != helpdesk.ChangedStatus {
				t.Fatalf("merge on version %d after a status change: %v, want a stale status", seen, err)
			}
			if !slices.Equal(w.threadIDs(t), before) || w.version(t, into) != intoV {
				t.Error("a refused merge moved threads or changed the target")
			}
			if err := w.s.MergeConversation(ctx, w.agentV(), from, into, w.version(t, from)); err != nil {
				t.Fatalf("merge on the current version: %v", err)
			}
			if got := w.rows(t, "SELECT CAST(id AS TEXT) FROM threads WHERE conversation_id = ?", from); len(got) != 0 {
				t.Errorf("threads left in the merged conversation: %v", got)
			}
		})
	}
}
