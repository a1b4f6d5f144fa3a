package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// TestMailDateKept: a mail's Date header is kept beside the time it was
// received, and NULL for a mail without one, also when a batch writes its
// threads in one statement (PostgreSQL's arrays).
func TestMailDateKept(t *testing.T) {
	dated := time.Date(2026, 3, 1, 9, 30, 0, 0, time.FixedZone("", 2*3600))
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			w := setupWorkspace(t, dialect)
			ctx := context.Background()
			b, err := w.s.FetchHandle(w.mb1, 0).BeginIngest(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var convs []int64
			for i, date := range []time.Time{dated, {}, dated.Add(time.Hour)} {
				msg := customerMsg(fmt.Sprintf("dated-%d@x", i), fmt.Sprintf("c%d@customer.test", i), fmt.Sprintf("Question %d", i))
				msg.Date = date
				res, err := b.Ingest(ctx, src(w.mb1, uint32(i+1)), msg)
				if err != nil {
					t.Fatal(err)
				}
				convs = append(convs, res.ConversationID)
			}
			if err := b.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, id := range convs {
				d, err := w.s.Conversation(ctx, helpdesk.ViewerOf(w.admin), id)
				if err != nil {
					t.Fatal(err)
				}
				th := d.Threads[0]
				switch {
				case th.MailDate == nil:
					got = append(got, "none")
				default:
					got = append(got, th.MailDate.UTC().Format(time.RFC3339))
				}
				if th.CreatedAt.IsZero() {
					t.Errorf("conversation %d: no received time", id)
				}
			}
			if want := "[2026-03-01T07:30:00Z none 2026-03-01T08:30:00Z]"; fmt.Sprint(got) != want {
				t.Errorf("mail dates %v, want %s", got, want)
			}
		})
	}
}
