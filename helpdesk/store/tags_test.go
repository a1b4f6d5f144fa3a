package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

func TestTags(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			var convs []int64
			for i := range 4 {
				convs = append(convs, w.ingest(t, mail{from: fmt.Sprintf("c%d@customer.example", i), subject: "s", text: "t"}).ConversationID)
			}

			// Concurrent first uses of one new tag, on different
			// conversations and twice on the same one: all succeed, one row.
			targets := append(append([]int64{}, convs...), convs[0], convs[0])
			for round := range 5 {
				tag := fmt.Sprintf("race-%d", round)
				var wg sync.WaitGroup
				errs := make(chan error, len(targets))
				for _, c := range targets {
					wg.Go(func() { errs <- w.s.AddTag(ctx, w.agentV(), c, tag, 0) })
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatalf("concurrent AddTag: %v", err)
					}
				}
				var tagRows, links int
				if err := w.db.Get(&tagRows, w.db.Rebind(`SELECT COUNT(*) FROM tags WHERE name = ?`), tag); err != nil {
					t.Fatal(err)
				}
				if err := w.db.Get(&links, w.db.Rebind(`SELECT COUNT(*) FROM conversation_tags ct JOIN tags tg ON tg.id = ct.tag_id WHERE tg.name = ?`), tag); err != nil {
					t.Fatal(err)
				}
				if tagRows != 1 || links != len(convs) {
					t.Fatalf("tag %s: %d tag rows, %d links", tag, tagRows, links)
				}
			}

			if err := w.s.AddTag(ctx, w.agentV(), convs[1], "  Billing ", 0); err != nil {
				t.Fatal(err)
			}
			d, _ := w.s.Conversation(ctx, w.agentV(), convs[1])
			if fmt.Sprint(d.Tags) != "[billing race-0 race-1 race-2 race-3 race-4]" {
				t.Errorf("tags %v", d.Tags)
			}
			if err := w.s.RemoveTag(ctx, w.agentV(), convs[1], "BILLING", 0); err != nil {
				t.Fatal(err)
			}
			if err := w.s.RemoveTag(ctx, w.agentV(), convs[1], "never-used", 0); err != nil {
				t.Errorf("removing an absent tag: %v", err)
			}
			d, _ = w.s.Conversation(ctx, w.agentV(), convs[1])
			if len(d.Tags) != 5 {
				t.Errorf("after remove: %v", d.Tags)
			}
			names, err := w.s.Tags(ctx, w.adminV())
			if err != nil || len(names) != 6 {
				t.Errorf("tags %v %v", names, err)
			}
			// Agents see the tags on conversations of their mailboxes
			// only: not the unused "billing", nothing for mailbox 2's agent.
			if names, err := w.s.Tags(ctx, w.agentV()); err != nil || fmt.Sprint(names) != "[race-0 race-1 race-2 race-3 race-4]" {
				t.Errorf("tags of mailbox 1's agent: %v %v", names, err)
			}
			if names, err := w.s.Tags(ctx, w.otherV()); err != nil || len(names) != 0 {
				t.Errorf("tags of mailbox 2's agent: %v %v", names, err)
			}

			for _, tc := range []struct {
				name, tag string
				v         helpdesk.Viewer
				conv      int64
				want      error
			}{
				{"empty", " ", w.agentV(), convs[0], helpdesk.ErrInvalid},
				{"too long", string(make([]byte, 51)), w.agentV(), convs[0], helpdesk.ErrInvalid},
				{"markup", "<script>", w.agentV(), convs[0], helpdesk.ErrInvalid},
				{"slash", "a/b", w.agentV(), convs[0], helpdesk.ErrInvalid},
				{"other mailbox", "x", w.otherV(), convs[0], helpdesk.ErrNotFound},
				{"unknown conversation", "x", w.adminV(), 9999, helpdesk.ErrNotFound},
			} {
				if err := w.s.AddTag(ctx, tc.v, tc.conv, tc.tag, 0); !errors.Is(err, tc.want) {
					t.Errorf("add %s: %v, want %v", tc.name, err, tc.want)
				}
				if err := w.s.RemoveTag(ctx, tc.v, tc.conv, tc.tag, 0); !errors.Is(err, tc.want) {
					t.Errorf("remove %s: %v, want %v", tc.name, err, tc.want)
				}
			}
			if names, _ := w.s.Tags(ctx, w.adminV()); len(names) != 6 {
				t.Errorf("bad input created tags: %v", names)
			}
		})
	}
}
