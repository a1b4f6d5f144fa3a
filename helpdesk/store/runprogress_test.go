package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// A run's progress is read back as stored while its fence is the current
// one, replaced by its next report, cleared when the run finishes, and not
// shown once a newer holder has claimed the mailbox.
func TestRunProgress(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			w := setupWorkspace(t, dialect)
			ctx := context.Background()
			read := func() (*helpdesk.RunProgress, []helpdesk.RunProgress) {
				t.Helper()
				one, err := w.s.RunProgress(ctx, w.mb1)
				if err != nil {
					t.Fatal(err)
				}
				all, err := w.s.AllRunProgress(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return one, all
			}
			if one, all := read(); one != nil || len(all) != 0 {
				t.Fatalf("before any run: %+v %+v, want none", one, all)
			}
			if err := w.s.ClaimFence(ctx, w.mb1, 1); err != nil {
				t.Fatal(err)
			}
			h := w.s.FetchHandle(w.mb1, 1)
			runID, err := h.StartRun(ctx, "schedule", "test")
			if err != nil {
				t.Fatal(err)
			}
			started := time.Date(2026, 11, 30, 6, 0, 0, 123456000, time.UTC)
			for _, done := range []int{0, 500, 1000} {
				p := helpdesk.RunProgress{Folder: "INBOX", Done: done, Total: 3000, StartedAt: started, UpdatedAt: started.Add(time.Duration(done) * time.Millisecond)}
				if err := h.SaveRunProgress(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
			want := helpdesk.RunProgress{MailboxID: w.mb1, Fence: 1, Folder: "INBOX", Done: 1000, Total: 3000, StartedAt: started, UpdatedAt: started.Add(time.Second)}
			one, all := read()
			if one == nil || !sameProgress(*one, want) || len(all) != 1 || !sameProgress(all[0], want) {
				t.Fatalf("progress %+v, all %+v; want %+v", one, all, want)
			}
			if rate := one.Rate(); rate != 1000 {
				t.Errorf("rate from the stored times = %g/s, want 1000/s", rate)
			}
			if err := h.FinishRun(ctx, helpdesk.FetchRun{ID: runID, MailboxID: w.mb1, New: 3000}); err != nil {
				t.Fatal(err)
			}
			if one, all := read(); one != nil || len(all) != 0 {
				t.Fatalf("after the run: %+v %+v, want none", one, all)
			}

			// A holder that loses its lease mid-run leaves its progress;
			// once a newer holder claims the mailbox it is not shown.
			if err := h.SaveRunProgress(ctx, want); err != nil {
				t.Fatal(err)
			}
			if err := w.s.ClaimFence(ctx, w.mb1, 2); err != nil {
				t.Fatal(err)
			}
			if one, all := read(); one != nil || len(all) != 0 {
				t.Fatalf("a fenced-off run's progress is shown: %+v %+v", one, all)
			}
		})
	}
}

// sameProgress compares progress as stored: times to the microsecond
// (PostgreSQL's precision), in any location.
func sameProgress(a, b helpdesk.RunProgress) bool {
	return a.MailboxID == b.MailboxID && a.Fence == b.Fence && a.Folder == b.Folder && a.Done == b.Done && a.Total == b.Total &&
		a.StartedAt.Truncate(time.Microsecond).Equal(b.StartedAt.Truncate(time.Microsecond)) &&
		a.UpdatedAt.Truncate(time.Microsecond).Equal(b.UpdatedAt.Truncate(time.Microsecond))
}
