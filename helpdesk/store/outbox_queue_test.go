package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/helpdesk/helpdesk/fetcher/mailparse"
	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// obSetup is the setup of the outbox tests: a store, a second connection
// for asserting on rows, a mailbox and the users around it.
type obSetup struct {
	s  *store.Store
	db *sqlx.DB
	mb int64
	// admin sees every mailbox; agent has mb; stranger has none; quiet has
	// mb with every notification off.
	admin, agent, stranger, quiet *helpdesk.User
	uid                           uint32
}

func setupOutbox(t *testing.T, dialect string) *obSetup {
	t.Helper()
	return setupOutboxWith(t, dialect, store.Options{})
}

// setupOutboxWith is setupOutbox with a store opened with opts.
func setupOutboxWith(t *testing.T, dialect string, opts store.Options) *obSetup {
	t.Helper()
	ctx := context.Background()
	url := teststore.URL(t, dialect)
	o := &obSetup{s: teststore.OpenURL(t, url, opts), db: teststore.RawDB(t, url)}
	o.mb = o.mailbox(t, "help@alpha.example", false)
	mk := func(email, role string) *helpdesk.User {
		u, err := o.s.CreateUser(ctx, helpdesk.UserInput{Email: email, Name: strings.Split(email, "@")[0], Role: role, Password: "password-123456"})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	o.admin = mk("boss@staff.example", helpdesk.RoleAdmin)
	o.agent = mk("agent@staff.example", helpdesk.RoleAgent)
	o.stranger = mk("stranger@staff.example", helpdesk.RoleAgent)
	o.quiet = mk("quiet@staff.example", helpdesk.RoleAgent)
	for _, u := range []*helpdesk.User{o.agent, o.quiet} {
		if err := o.s.SetUserMailboxes(ctx, u.ID, []int64{o.mb}); err != nil {
			t.Fatal(err)
		}
	}
	o.exec(t, `UPDATE users SET notify_new_conversation = ?, notify_customer_reply = ?, notify_assigned = ? WHERE id = ?`,
		false, false, false, o.quiet.ID)
	return o
}

func (o *obSetup) mailbox(t *testing.T, email string, autoAck bool) int64 {
	t.Helper()
	id, err := o.s.CreateMailbox(context.Background(), helpdesk.MailboxInput{
		Name: "Support " + email, Email: email, IMAPHost: "127.0.0.1", IMAPPort: 143, IMAPSecurity: "none",
		IMAPUser: "u", IMAPPassword: "p", AutoAck: autoAck,
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (o *obSetup) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := o.db.Exec(o.db.Rebind(q), args...); err != nil {
		t.Fatal(err)
	}
}

// customerMail is an incoming message; raw headers are added to Raw, and
// the fields the parser reads from them (Auto-Submitted, the loop header)
// are set as fetcher/mailparse sets them.
type customerMail struct {
	mailbox    int64
	from       string
	subject    string
	messageID  string
	inReplyTo  string
	autoReply  bool
	rawHeaders string // extra "Name: value\r\n" lines
}

func (o *obSetup) ingest(t *testing.T, m customerMail) helpdesk.IngestResult {
	t.Helper()
	if m.mailbox == 0 {
		m.mailbox = o.mb
	}
	o.uid++
	if m.messageID == "" {
		m.messageID = fmt.Sprintf("c%d@customer.example", o.uid)
	}
	if m.subject == "" {
		m.subject = "Printer on fire"
	}
	raw := fmt.Sprintf("From: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\n%s\r\nPlease help.\r\n", m.from, m.subject, m.messageID, m.rawHeaders)
	parsed, err := mailparse.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	msg := &helpdesk.IncomingMessage{
		MessageID: m.messageID, InReplyTo: m.inReplyTo, From: helpdesk.Address{Name: "Cus Tomer", Email: m.from},
		Subject: m.subject, Text: "Please help.", AutoReply: m.autoReply, DedupKey: "mid:" + m.messageID, Raw: []byte(raw),
		AutoSubmitted: parsed.AutoSubmitted, Loop: parsed.Loop,
	}
	if m.inReplyTo != "" {
		msg.References = []string{m.inReplyTo}
	}
	res, err := teststore.Ingest(context.Background(), o.s, helpdesk.MessageSource{MailboxID: m.mailbox, Folder: "INBOX", UIDValidity: 1, UID: o.uid}, msg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// keys lists the dedup keys of the outbox rows of one kind, sorted.
func (o *obSetup) keys(t *testing.T, kind string) []string {
	t.Helper()
	var keys []string
	if err := o.db.Select(&keys, o.db.Rebind(`SELECT dedup_key FROM outbox WHERE kind = ? ORDER BY dedup_key`), kind); err != nil {
		t.Fatal(err)
	}
	return keys
}

func (o *obSetup) enqueue(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id, err := o.s.EnqueueForTest(context.Background(), helpdesk.OutboundMail{
			DedupKey: fmt.Sprintf("test:q:%d", i), Kind: "test", From: "help@alpha.example",
			To: []string{fmt.Sprintf("r%d@example.net", i)}, Subject: "s", BodyText: "b",
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func TestEnqueueDedup(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			o := setupOutbox(t, dialect)
			ctx := context.Background()
			m := helpdesk.OutboundMail{DedupKey: "notify:x:1:2", Kind: "notification", From: "help@alpha.example",
				To: []string{"a@example.net"}, Subject: "Grüße", BodyText: "b", Headers: map[string]string{"Auto-Submitted": "auto-generated"}}
			var wg sync.WaitGroup
			ids := make([]string, 8)
			for i := range ids {
				wg.Go(func() {
					var err error
					if ids[i], err = o.s.EnqueueForTest(ctx, m); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if got := o.keys(t, "notification"); len(got) != 1 {
				t.Fatalf("rows %v, want one", got)
			}
			for _, id := range ids {
				if id != ids[0] || !strings.HasSuffix(id, "@alpha.example") {
					t.Fatalf("message ids %v: want one stable id on the sender's domain", ids)
				}
			}
		})
	}
}

func TestClaimLeaseAndOutcomes(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			o := setupOutbox(t, dialect)
			ctx := context.Background()
			o.enqueue(t, 5)

			a, err := o.s.ClaimOutbox(ctx, "a", 3, time.Minute)
			if err != nil || len(a) != 3 {
				t.Fatalf("claim a: %d rows, %v", len(a), err)
			}
			b, err := o.s.ClaimOutbox(ctx, "b", 10, time.Minute)
			if err != nil || len(b) != 2 {
				t.Fatalf("claim b: %d rows, %v; leased rows must not be claimed twice", len(b), err)
			}
			if again, _ := o.s.ClaimOutbox(ctx, "c", 10, time.Minute); len(again) != 0 {
				t.Fatalf("claimed %d leased rows", len(again))
			}
			if a[0].Attempts != 1 || a[0].LeaseOwner != "a" || len(a[0].To) != 1 || a[0].Headers == nil {
				t.Fatalf("claimed row %+v", a[0])
			}

			// Outcomes: sent, rescheduled, failed, released.
			if n, err := o.s.MarkOutboxSent(ctx, a[0].LeaseOwner, []int64{a[0].ID}); err != nil || n != 1 {
				t.Fatalf("mark sent: %d rows, %v", n, err)
			}
			if err := o.s.RescheduleOutbox(ctx, a[1], time.Now().Add(time.Hour), "451 try later"); err != nil {
				t.Fatal(err)
			}
			// Queued an hour ago, failing now.
			o.exec(t, `UPDATE outbox SET created_at = ? WHERE id = ?`, time.Now().UTC().Add(-time.Hour), a[2].ID)
			beforeFail := time.Now()
			if err := o.s.FailOutbox(ctx, a[2], "550 no such user"); err != nil {
				t.Fatal(err)
			}
			// A stale owner changes nothing.
			stale := b[0]
			stale.LeaseOwner = "someone-else"
			if err := o.s.FailOutbox(ctx, stale, "stale"); err != nil {
				t.Fatal(err)
			}
			if m, _ := o.s.OutboxMessage(ctx, b[0].ID); m.Status != "pending" || m.FailedAt != nil {
				t.Fatalf("a stale lease owner failed the row: %+v", m)
			}
			if err := o.s.ReleaseOutbox(ctx, b[0], time.Now(), ""); err != nil {
				t.Fatal(err)
			}
			if m, _ := o.s.OutboxMessage(ctx, b[0].ID); m.Attempts != 0 || m.LeaseUntil != nil {
				t.Fatalf("released row %+v: attempt not given back", m)
			}

			st, err := o.s.OutboxStats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Pending != 3 || st.Failed != 1 || st.OldestPendingAge <= 0 || st.LastError == "" {
				t.Fatalf("stats %+v", st)
			}

			// An expired lease is claimable again (b[1] was leased for 1 minute: expire it by hand).
			o.exec(t, `UPDATE outbox SET lease_until = ? WHERE id = ?`, time.Now().UTC().Add(-time.Second), b[1].ID)
			re, err := o.s.ClaimOutbox(ctx, "d", 10, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			ids := map[int64]int{}
			for _, m := range re {
				ids[m.ID] = m.Attempts
			}
			if len(re) != 2 || ids[b[1].ID] != 2 || ids[b[0].ID] != 1 {
				t.Fatalf("reclaimed %v, want the expired lease (attempt 2) and the released row (attempt 1)", ids)
			}
			if re[0].MessageID == "" {
				t.Fatal("no message id")
			}

			// Failed rows are listed and can be retried by hand, once.
			failed, err := o.s.FailedOutbox(ctx)
			if err != nil || len(failed) != 1 || failed[0].ID != a[2].ID || failed[0].LastError != "550 no such user" {
				t.Fatalf("failed %+v %v", failed, err)
			}
			// The time of failure, not of queueing (a second of slack for
			// SQLite's and PostgreSQL's timestamp rounding).
			if at := failed[0].FailedAt; at == nil || at.Before(beforeFail.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
				t.Fatalf("failed_at %v, want about %v", at, beforeFail)
			}
			if err := o.s.RetryOutbox(ctx, a[2].ID); err != nil {
				t.Fatal(err)
			}
			if m, _ := o.s.OutboxMessage(ctx, a[2].ID); m.Status != "pending" || m.FailedAt != nil {
				t.Fatalf("retried row %+v: still has a failed_at", m)
			}
			if err := o.s.RetryOutbox(ctx, a[2].ID); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Fatalf("second retry: %v, want ErrNotFound", err)
			}
			if got, _ := o.s.ClaimOutbox(ctx, "e", 10, time.Minute); len(got) != 1 || got[0].ID != a[2].ID || got[0].Attempts != 1 {
				t.Fatalf("after manual retry claimed %+v", got)
			}
		})
	}
}

// TestClaimRenewalFenced: a claim renews the rows it holds, and only
// those; once its lease ran out and another claim took a row, the first
// claim can neither renew nor mark it, and the rows it still holds are
// marked sent in one call.
func TestClaimRenewalFenced(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			o := setupOutbox(t, dialect)
			ctx := context.Background()
			o.enqueue(t, 3)
			a, err := o.s.ClaimOutbox(ctx, "a", 3, time.Minute)
			if err != nil || len(a) != 3 {
				t.Fatalf("claim a: %d rows, %v", len(a), err)
			}
			ids := []int64{a[0].ID, a[1].ID, a[2].ID}
			until := time.Now().Add(time.Hour)
			renewed, err := o.s.RenewOutboxClaim(ctx, "a", ids, until)
			if err != nil || len(renewed) != 3 {
				t.Fatalf("renewed %v, %v; want all three", renewed, err)
			}
			if m, _ := o.s.OutboxMessage(ctx, a[0].ID); m.LeaseUntil == nil || m.LeaseUntil.Before(until.Add(-time.Second)) {
				t.Fatalf("lease of a renewed row ends %v, want %v", m.LeaseUntil, until)
			}
			if got, _ := o.s.ClaimOutbox(ctx, "b", 10, time.Minute); len(got) != 0 {
				t.Fatalf("claimed %d renewed rows", len(got))
			}

			// a's lease of row 0 runs out and b takes it.
			o.exec(t, `UPDATE outbox SET lease_until = ? WHERE id = ?`, time.Now().UTC().Add(-time.Second), a[0].ID)
			b, err := o.s.ClaimOutbox(ctx, "b", 10, time.Minute)
			if err != nil || len(b) != 1 || b[0].ID != a[0].ID {
				t.Fatalf("claim b: %+v, %v; want the row whose lease ran out", b, err)
			}
			renewed, err = o.s.RenewOutboxClaim(ctx, "a", ids, until)
			if err != nil || len(renewed) != 2 || slices.Contains(renewed, a[0].ID) {
				t.Fatalf("stale claim renewed %v, %v; want only its two rows", renewed, err)
			}
			if m, _ := o.s.OutboxMessage(ctx, a[0].ID); m.LeaseOwner != b[0].LeaseOwner {
				t.Fatalf("row taken by b has owner %q after a's renewal", m.LeaseOwner)
			}
			n, err := o.s.MarkOutboxSent(ctx, "a", ids)
			if err != nil || n != 2 {
				t.Fatalf("stale claim marked %d rows, %v; want its two", n, err)
			}
			if m, _ := o.s.OutboxMessage(ctx, a[0].ID); m.Status != "pending" || m.LeaseOwner != "b" {
				t.Fatalf("stale claim settled b's row: %+v", m)
			}
			if m, _ := o.s.OutboxMessage(ctx, a[1].ID); m.Status != "sent" || m.SentAt == nil || m.LeaseUntil != nil {
				t.Fatalf("marked row %+v", m)
			}
			// A lease that ran out is not renewed, even if nobody took it.
			o.exec(t, `UPDATE outbox SET lease_until = ? WHERE id = ?`, time.Now().UTC().Add(-time.Second), b[0].ID)
			if renewed, err := o.s.RenewOutboxClaim(ctx, "b", []int64{b[0].ID}, until); err != nil || len(renewed) != 0 {
				t.Fatalf("renewed an expired lease: %v, %v", renewed, err)
			}
		})
	}
}

// TestFailedOutboxListsNewest: the failed list stops at the newest
// FailedOutboxShown rows; the count still has them all.
func TestFailedOutboxListsNewest(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			o := setupOutbox(t, dialect)
			ctx := context.Background()
			n := store.FailedOutboxShown + 2
			o.enqueue(t, n)
			claimed, err := o.s.ClaimOutbox(ctx, "a", n, time.Minute)
			if err != nil || len(claimed) != n {
				t.Fatalf("claimed %d: %v", len(claimed), err)
			}
			var newest int64
			for _, m := range claimed {
				if err := o.s.FailOutbox(ctx, m, "550 rejected"); err != nil {
					t.Fatal(err)
				}
				newest = max(newest, m.ID)
			}
			failed, err := o.s.FailedOutbox(ctx)
			if err != nil || len(failed) != store.FailedOutboxShown {
				t.Fatalf("listed %d failed, %v; want %d", len(failed), err, store.FailedOutboxShown)
			}
			if failed[0].ID != newest {
				t.Fatalf("listed first %d, want the newest, %d", failed[0].ID, newest)
			}
			if st, err := o.s.OutboxStats(ctx); err != nil || st.Failed != n || st.Pending != 0 {
				t.Fatalf("stats %+v %v", st, err)
			}
		})
	}
}

// TestClaimConcurrent: many claimers at once never get the same row.
func TestClaimConcurrent(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			o := setupOutbox(t, dialect)
			ctx := context.Background()
			const rows = 120
			o.enqueue(t, rows)
			var mu sync.Mutex
			seen := map[int64]string{}
			var wg sync.WaitGroup
			for w := range 6 {
				wg.Go(func() {
					owner := fmt.Sprintf("w%d", w)
					for {
						got, err := o.s.ClaimOutbox(ctx, owner, 7, time.Minute)
						if err != nil {
							t.Error(err)
							return
						}
						if len(got) == 0 {
							return
						}
						mu.Lock()
						for _, m := range got {
							if prev, dup := seen[m.ID]; dup {
								t.Errorf("row %d claimed by %s and %s", m.ID, prev, owner)
							}
							seen[m.ID] = owner
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(seen) != rows {
				t.Fatalf("claimed %d rows, want %d", len(seen), rows)
			}
		})
	}
}

func TestEnqueueTestEmail(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			o := setupOutbox(t, dialect)
			ctx := context.Background()
			if err := o.s.EnqueueTestEmail(ctx, "not an address", "boss"); !errors.Is(err, helpdesk.ErrInvalid) {
				t.Fatalf("bad address: %v", err)
			}
			for range 2 {
				if err := o.s.EnqueueTestEmail(ctx, "me@example.net", "boss@staff.example"); err != nil {
					t.Fatal(err)
				}
			}
			rows, err := o.s.OutboxByKind(ctx, "test", 10)
			if err != nil || len(rows) != 2 {
				t.Fatalf("test rows %d, %v: each press is one mail", len(rows), err)
			}
			m := rows[0]
			if m.From != "help@alpha.example" || m.MailboxID != o.mb || m.To[0] != "me@example.net" ||
				!strings.Contains(m.BodyText, "boss@staff.example") || m.Headers["Auto-Submitted"] != "auto-generated" {
				t.Fatalf("test mail %+v", m)
			}
		})
	}
}

// TestSQLiteClaimReadsTheDueIndexInOrder pins the claim's plan on SQLite:
// it walks outbox_due (which holds lease_until too) in next_attempt_at
// order and stops at the limit, instead of reading every pending row with
// its body from the table and sorting them, once per claim.
func TestSQLiteClaimReadsTheDueIndexInOrder(t *testing.T) {
	url := teststore.URL(t, "sqlite")
	teststore.OpenURL(t, url, store.Options{}) // migrated
	text, err := store.QueryTextForTest("outbox.sql", "sqlite", "claim-outbox")
	if err != nil || text == "" {
		t.Fatalf("claim-outbox: %q, %v", text, err)
	}
	rows, err := teststore.RawDB(t, url).Query("EXPLAIN QUERY PLAN "+text, "o", time.Now(), time.Now(), time.Now(), 50)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	all := strings.Join(plan, "\n")
	if !strings.Contains(all, "COVERING INDEX outbox_due") || strings.Contains(all, "TEMP B-TREE") {
		t.Errorf("claim plan reads more than outbox_due in order:\n%s", all)
	}
}
