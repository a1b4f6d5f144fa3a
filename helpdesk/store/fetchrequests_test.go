package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// TestDoneFetchRequestsArePruned: completing a mailbox's requests deletes
// its requests done over KeepDoneFetchRequests ago and keeps newer ones,
// open ones and other mailboxes' ones.
func TestDoneFetchRequestsArePruned(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			w := setupWorkspace(t, dialect)
			ctx := context.Background()
			request := func(mb int64) {
				t.Helper()
				if err := w.s.RequestFetch(ctx, mb, "admin@example.com"); err != nil {
					t.Fatal(err)
				}
			}
			complete := func(mb int64) {
				t.Helper()
				if err := w.s.CompleteFetchRequests(ctx, mb, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			count := func(q string, args ...any) int {
				t.Helper()
				var n int
				if err := w.db.Get(&n, w.db.Rebind(q), args...); err != nil {
					t.Fatal(err)
				}
				return n
			}
			old := time.Now().UTC().Add(-helpdesk.KeepDoneFetchRequests - time.Hour)
			recent := time.Now().UTC().Add(-helpdesk.KeepDoneFetchRequests + time.Hour)

			// Served requests: two of mb1 (one old, one recent), one old of mb2.
			for _, mb := range []int64{w.mb1, w.mb1, w.mb2} {
				request(mb)
				complete(mb)
			}
			var ids []int64
			if err := w.db.Select(&ids, `SELECT id FROM fetch_requests ORDER BY id`); err != nil || len(ids) != 3 {
				t.Fatalf("requests %v %v, want 3", ids, err)
			}
			for i, at := range []time.Time{old, recent, old} {
				if _, err := w.db.Exec(w.db.Rebind(`UPDATE fetch_requests SET done_at = ?, requested_at = ? WHERE id = ?`), at, at, ids[i]); err != nil {
					t.Fatal(err)
				}
			}

			request(w.mb1)
			complete(w.mb1)
			request(w.mb1) // open, made after the run started
			if n := count(`SELECT COUNT(*) FROM fetch_requests WHERE id = ?`, ids[0]); n != 0 {
				t.Error("the old done request of the mailbox was kept")
			}
			if n := count(`SELECT COUNT(*) FROM fetch_requests WHERE mailbox_id = ?`, w.mb1); n != 3 {
				t.Errorf("mailbox 1 has %d requests, want 3: the recent done, the one just served, the open one", n)
			}
			if n := count(`SELECT COUNT(*) FROM fetch_requests WHERE mailbox_id = ?`, w.mb2); n != 1 {
				t.Errorf("the other mailbox has %d requests, want its 1 left alone", n)
			}
			if _, open, err := w.s.FetchChanges(ctx); err != nil || len(open) != 1 || open[0] != w.mb1 {
				t.Errorf("open requests for %v %v, want mailbox 1's", open, err)
			}
		})
	}
}

// FetchChanges, the fetch service's one read per tick: the version changes
// with every write to a mailbox, and the open requests are listed.
func TestFetchChanges(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			w := setupWorkspace(t, dialect)
			ctx := context.Background()
			version := func() (int64, []int64) {
				t.Helper()
				v, requested, err := w.s.FetchChanges(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return v, requested
			}
			v0, requested := version()
			if len(requested) != 0 {
				t.Fatalf("requested %v before any request", requested)
			}
			writes := map[string]func() error{
				"disable": func() error { return w.s.SetMailboxEnabled(ctx, w.mb1, false) },
				"update": func() error {
					m, err := w.s.Mailbox(ctx, w.mb2)
					if err != nil {
						return err
					}
					return w.s.UpdateMailbox(ctx, w.mb2, helpdesk.MailboxInput{
						Name: m.Name, Email: m.Email, IMAPHost: m.IMAPHost, IMAPPort: m.IMAPPort, IMAPSecurity: m.IMAPSecurity,
						IMAPUser: m.IMAPUser, Enabled: true, PollIntervalS: 30, Folders: []string{"INBOX", "Sales"},
					})
				},
				"create": func() error {
					_, err := w.s.CreateMailbox(ctx, helpdesk.MailboxInput{Name: "Third", Email: "third@example.com",
						IMAPHost: "127.0.0.1", IMAPPort: 143, IMAPSecurity: "none", IMAPUser: "u", IMAPPassword: "p"})
					return err
				},
			}
			last := v0
			for _, name := range []string{"disable", "update", "create"} {
				if err := writes[name](); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if v, _ := version(); v == last {
					t.Errorf("%s: version stayed %d", name, v)
				} else {
					last = v
				}
			}
			for _, mb := range []int64{w.mb1, w.mb2} {
				if err := w.s.RequestFetch(ctx, mb, "admin@example.com"); err != nil {
					t.Fatal(err)
				}
			}
			v, requested := version()
			if v != last || len(requested) != 2 {
				t.Fatalf("after two requests: version %d (want %d), requested %v (want both mailboxes)", v, last, requested)
			}
		})
	}
}
