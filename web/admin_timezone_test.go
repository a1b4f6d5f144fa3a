package web

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// caughtList is a fixed catch of the demo's SMTP catcher.
type caughtList []CaughtMessage

func (l caughtList) CaughtMessages() []CaughtMessage { return l }

// utcTime is a time printed in UTC: what no page may show an admin who
// chose another zone.
var utcTime = regexp.MustCompile(`\d\d:\d\d(:\d\d)? UTC`)

// TestAdminPagesInViewerZone: the admin pages print every time in the
// viewer's time zone (here India's, IST), as the conversation pages do:
// the status page (its reading, fleet, lock, runs, quarantine, outbox),
// a mailbox's page, a user's page, the API tokens and the caught mail.
func TestAdminPagesInViewerZone(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		caught := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
		e := setup(t, dialect, func(c *Config) {
			c.CaughtMail = caughtList{{ID: 1, To: []string{"bob@customer.example"}, Subject: "Caught", Received: caught}}
		})
		ctx := context.Background()
		mb := e.mailbox(t, 1)
		fence := e.fetched(t, mb, errIMAPLogin)
		e.quarantined(t, mb, fence, 7)
		lease, err := e.local.Obtain(ctx, mb, fence)
		if err != nil {
			t.Fatal(err)
		}
		defer lease.Release()
		if err := e.store.EnqueueTestEmail(ctx, "bob@customer.example", "Ada"); err != nil {
			t.Fatal(err)
		}
		claimed, err := e.store.ClaimOutbox(ctx, "test-notifier", 1, time.Minute)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claimed %d: %v", len(claimed), err)
		}
		if err := e.store.FailOutbox(ctx, claimed[0], "550 no such user"); err != nil {
			t.Fatal(err)
		}
		if err := e.store.SetUserDisabled(ctx, e.agent.ID, true); err != nil {
			t.Fatal(err)
		}
		if err := e.store.SetTimeZone(ctx, e.admin.ID, "Asia/Kolkata"); err != nil {
			t.Fatal(err)
		}
		admin := e.session(t, e.admin)

		for page, least := range map[string]int{
			"/admin/status":                            5, // as of, fleet start, lock, quarantine, outbox queued and failed
			fmt.Sprintf("/admin/mailboxes/%d", mb):     5, // lock since and beat, last run (no success yet), a run, quarantine
			fmt.Sprintf("/admin/users/%d", e.agent.ID): 1, // disabled since
			"/account/tokens":                          1, // the token's creation
			"/admin/caught":                            1,
			"/admin/caught/1":                          1,
		} {
			resp, body := admin.get(page)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d", page, resp.StatusCode)
			}
			if n := strings.Count(body, " IST"); n < least {
				t.Errorf("%s shows %d times in IST, want at least %d", page, n, least)
			}
			if m := utcTime.FindString(body); m != "" {
				t.Errorf("%s shows a time in UTC: %q", page, m)
			}
		}
		if _, body := admin.get("/admin/caught"); !strings.Contains(body, "<td>Mon 4 May 2026 15:30 IST</td>") {
			t.Errorf("caught mail's time not in IST:\n%s", body)
		}
	})
}
