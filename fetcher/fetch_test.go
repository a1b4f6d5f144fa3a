package fetcher_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
	"github.com/helpdesk/helpdesk/locks"
)

// forEachDialect runs fn on each database (PostgreSQL is skipped under
// -short), in parallel with each other and with the other parallel tests.
func forEachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Parallel()
	for _, d := range teststore.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// The Dovecot smoke test of -short (on SQLite).
func TestFetch500ExactlyOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect, nil)
		// The helpdesk looks at the folder before the mail arrives: it is
		// new mail, not a first import (import_test.go), so it notifies.
		if got := e.fetch(); got.New != 0 {
			t.Fatalf("run over the empty folder: %+v", got)
		}
		raws, ids := teststore.Mails("msg", 0, 500, 3000)
		e.dovecot.AppendMany(t, e.user, "INBOX", raws)
		// An admin who wants new-conversation mail: messages stored in one
		// commit group each enqueue their own notification.
		if _, err := e.store.CreateUser(context.Background(), helpdesk.UserInput{
			Email: "agent@example.test", Name: "Agent", Role: "admin", Password: "long-enough-password",
		}); err != nil {
			t.Fatal(err)
		}

		first := e.fetch()
		if first.New != 500 || first.Duplicates != 0 || first.Quarantined != 0 {
			t.Fatalf("first run: %+v, want 500 new", first)
		}
		second := e.fetch()
		if second.New != 0 || second.Duplicates != 0 || second.Quarantined != 0 {
			t.Fatalf("second run found something: %+v", second)
		}
		teststore.RequireExactlyOnce(t, e.store, e.mailbox, ids)
		if stats, err := e.store.OutboxStats(context.Background()); err != nil || stats.Pending != 500 {
			t.Fatalf("outbox %+v (%v): want one notification per message, 500", stats, err)
		}
		st, err := e.store.FetchHandle(e.mailbox, 0).State(context.Background(), "INBOX")
		if err != nil || st.LastUID != 500 || st.Failures != 0 || st.LastSuccessAt == nil {
			t.Fatalf("fetch state %+v (%v): want last UID 500, a success, no failures", st, err)
		}
	})
}

func TestUIDValidityChangeMakesNoDuplicates(t *testing.T) {
	testserver.SkipShort(t, "Dovecot")
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect, func(in *helpdesk.MailboxInput) { in.Folders = []string{"Support"} })
		raws, ids := teststore.Mails("msg", 0, 50, 2000)
		e.dovecot.CreateFolder(t, e.user, "Support")
		e.dovecot.AppendMany(t, e.user, "Support", raws)
		if got := e.fetch(); got.New != 50 {
			t.Fatalf("first run: %+v", got)
		}
		before, _ := e.store.FetchHandle(e.mailbox, 0).State(context.Background(), "Support")

		e.dovecot.DeleteFolder(t, e.user, "Support")
		e.dovecot.CreateFolder(t, e.user, "Support")
		e.dovecot.AppendMany(t, e.user, "Support", append(raws, mustMail(50)))

		got := e.fetch()
		if got.New != 1 || got.Duplicates != 50 {
			t.Fatalf("after recreating the folder: %+v, want 1 new and 50 duplicates", got)
		}
		after, _ := e.store.FetchHandle(e.mailbox, 0).State(context.Background(), "Support")
		if after.UIDValidity == before.UIDValidity {
			t.Fatalf("UIDVALIDITY did not change (%d): the test proves nothing", after.UIDValidity)
		}
		_, id50 := teststore.Mail("msg", 50, 2000)
		teststore.RequireExactlyOnce(t, e.store, e.mailbox, append(ids, id50))
	})
}

func mustMail(i int) []byte {
	raw, _ := teststore.Mail("msg", i, 2000)
	return raw
}

// Mail someone already read in another client is still fetched: we track
// UIDs, not \Seen. After commit the mailbox's after-fetch action runs.
func TestSeenMailIsFetchedAndAfterFetchActions(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	t.Run("seen", func(t *testing.T) {
		t.Parallel()
		e := setup(t, "sqlite", func(in *helpdesk.MailboxInput) { in.AfterFetch = "seen" })
		raws, ids := teststore.Mails("msg", 0, 5, 1000)
		e.dovecot.AppendMany(t, e.user, "INBOX", raws)
		markSeen(t, e, 1) // read in another client before we fetch
		if got := e.fetch(); got.New != 5 {
			t.Fatalf("got %+v, want all 5 (one already \\Seen) fetched", got)
		}
		teststore.RequireExactlyOnce(t, e.store, e.mailbox, ids)
		if n := countFlagged(t, e, "INBOX", imap.FlagSeen); n != 5 {
			t.Fatalf("%d of 5 messages \\Seen after fetch", n)
		}
	})
	t.Run("move", func(t *testing.T) {
		t.Parallel()
		e := setup(t, "sqlite", func(in *helpdesk.MailboxInput) { in.AfterFetch = "move"; in.MoveToFolder = "Processed" })
		e.dovecot.CreateFolder(t, e.user, "Processed")
		raws, ids := teststore.Mails("msg", 0, 5, 1000)
		e.dovecot.AppendMany(t, e.user, "INBOX", raws)
		if got := e.fetch(); got.New != 5 {
			t.Fatalf("got %+v", got)
		}
		teststore.RequireExactlyOnce(t, e.store, e.mailbox, ids)
		if inbox, processed := folderSize(t, e, "INBOX"), folderSize(t, e, "Processed"); inbox != 0 || processed != 5 {
			t.Fatalf("after move: INBOX %d, Processed %d; want 0 and 5", inbox, processed)
		}
		if got := e.fetch(); got.New != 0 {
			t.Fatalf("second run: %+v", got)
		}
	})
	t.Run("leave", func(t *testing.T) {
		t.Parallel()
		e := setup(t, "sqlite", nil)
		raws, _ := teststore.Mails("msg", 0, 3, 1000)
		e.dovecot.AppendMany(t, e.user, "INBOX", raws)
		e.fetch()
		if n := countFlagged(t, e, "INBOX", imap.FlagSeen); n != 0 {
			t.Fatalf("leave: %d messages got \\Seen; BODY.PEEK must not set it", n)
		}
	})
}

func markSeen(t *testing.T, e *env, uid uint32) {
	c := e.dovecot.Dial(t, e.user)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var set imap.UIDSet
	set.AddNum(imap.UID(uid))
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
}

func countFlagged(t *testing.T, e *env, folder string, flag imap.Flag) int {
	c := e.dovecot.Dial(t, e.user)
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{flag}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return len(data.AllUIDs())
}

func folderSize(t *testing.T, e *env, folder string) uint32 {
	c := e.dovecot.Dial(t, e.user)
	data, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return data.NumMessages
}

// The fixture corpus: every message is stored or quarantined, none lost;
// the same Message-ID in two folders is stored once.
func TestCorpusNothingLost(t *testing.T) {
	testserver.SkipShort(t, "Dovecot")
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect, func(in *helpdesk.MailboxInput) {
			in.Folders = []string{"INBOX", "Sales"}
			in.MaxMessageBytes = 30 << 20
		})
		files, err := filepath.Glob("mailparse/testdata/eml/*.eml")
		if err != nil || len(files) < 20 {
			t.Fatalf("corpus: %d files (%v)", len(files), err)
		}
		var raws [][]byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			raws = append(raws, b)
		}
		big := bigAttachmentMail(20 << 20)
		oversized := bigAttachmentMail(25 << 20)
		raws = append(raws, big, oversized)
		e.dovecot.AppendMany(t, e.user, "INBOX", raws)
		e.dovecot.CreateFolder(t, e.user, "Sales")
		copyOf := raws[0] // the same mail also delivered to a second folder
		e.dovecot.Append(t, e.user, "Sales", copyOf)

		sum := e.fetch()
		total := len(raws) + 1
		if sum.New+sum.Duplicates+sum.Quarantined != total {
			t.Fatalf("%+v accounts for %d of %d messages", sum, sum.New+sum.Duplicates+sum.Quarantined, total)
		}
		if sum.Duplicates != 1 {
			t.Fatalf("the copy in a second folder: %d duplicates, want 1", sum.Duplicates)
		}
		counts, err := e.store.LedgerCounts(context.Background(), e.mailbox)
		if err != nil {
			t.Fatal(err)
		}
		if counts[helpdesk.OutcomeNew]+counts[helpdesk.OutcomeDuplicate]+counts[helpdesk.OutcomeQuarantined] != total {
			t.Fatalf("ledger %v does not account for all %d messages", counts, total)
		}
		qs, err := e.store.Quarantined(context.Background(), e.mailbox)
		if err != nil {
			t.Fatal(err)
		}
		var tooLarge *helpdesk.QuarantinedMessage
		for i, q := range qs {
			if strings.HasPrefix(q.Reason, "too large") {
				tooLarge = &qs[i]
			}
		}
		if tooLarge == nil || tooLarge.RawComplete || tooLarge.Size < 30<<20 {
			t.Fatalf("the oversized message is not quarantined as too large: %+v", qs)
		}
		if again := e.fetch(); again.New+again.Duplicates+again.Quarantined != 0 {
			t.Fatalf("second run: %+v", again)
		}

		// Raising the limit and retrying downloads it whole and stores it.
		m, _ := e.store.Mailbox(context.Background(), e.mailbox)
		in := mailboxInputOf(m)
		in.MaxMessageBytes = 64 << 20
		if err := e.store.UpdateMailbox(context.Background(), e.mailbox, in); err != nil {
			t.Fatal(err)
		}
		if err := e.store.RetryQuarantined(context.Background(), tooLarge.ID); err != nil {
			t.Fatal(err)
		}
		if retried := e.fetch(); retried.New != 1 {
			t.Fatalf("retry of the oversized message: %+v, want 1 new", retried)
		}
		if left, _ := e.store.Quarantined(context.Background(), e.mailbox); len(left) != len(qs)-1 {
			t.Fatalf("after retry %d quarantined, want %d", len(left), len(qs)-1)
		}
	})
}

func mailboxInputOf(m *helpdesk.Mailbox) helpdesk.MailboxInput {
	return helpdesk.MailboxInput{
		Name: m.Name, Email: m.Email, IMAPHost: m.IMAPHost, IMAPPort: m.IMAPPort, IMAPSecurity: m.IMAPSecurity,
		IMAPUser: m.IMAPUser, Folders: m.Folders, AfterFetch: m.AfterFetch, MoveToFolder: m.MoveToFolder,
		Enabled: m.Enabled, PollIntervalS: m.PollIntervalS, MaxMessageBytes: m.MaxMessageBytes,
	}
}

// bigAttachmentMail is a mail with one base64 attachment of n bytes.
func bigAttachmentMail(n int) []byte {
	var b strings.Builder
	b.WriteString("From: Big Sender <big@customer.test>\r\nTo: support@example.test\r\nSubject: Logs attached\r\n")
	b.WriteString("Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <big-" + strings.Repeat("x", n%7) + strconv.Itoa(n) + "@customer.test>\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n")
	b.WriteString("--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"logs.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	line := strings.Repeat("QUJD", 19) + "\r\n" // 76 chars decoding to 57 bytes
	for written := 0; written < n; written += 57 {
		b.WriteString(line)
	}
	b.WriteString("--b1--\r\n")
	return []byte(b.String())
}

func TestFetchOverTLSAndSTARTTLS(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	d := testserver.StartDovecotTLS(t)
	for i, security := range []string{"tls", "starttls"} {
		t.Run(security, func(t *testing.T) {
			e := setupWith(t, d, teststore.Open(t, "sqlite"), func(in *helpdesk.MailboxInput) {
				in.IMAPSecurity = security
				if security == "tls" {
					in.IMAPPort = d.TLSPort()
				}
				in.Email = security + "@example.test"
			})
			e.user = "support"
			raw, id := teststore.Mail("msg", i, 1000)
			e.dovecot.Append(t, e.user, "INBOX", raw)
			if got := e.fetch(); got.New != i+1 {
				t.Fatalf("%s: %+v", security, got)
			}
			if e.audit().StoredMessageIDs[id] != 1 {
				t.Fatalf("%s: message not stored once", security)
			}
		})
	}
}

// A first import can be limited to mail received since a date; older mail
// is never fetched, also not by later runs.
func TestImportSince(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	e := setup(t, "sqlite", func(in *helpdesk.MailboxInput) { in.ImportSince = &since })
	c := e.dovecot.Dial(t, e.user)
	var recent []string
	for i, received := range []time.Time{since.AddDate(0, -2, 0), since.AddDate(0, 0, 3), since.AddDate(0, -1, 0), since.AddDate(0, 0, 10)} {
		raw, id := teststore.Mail("msg", i, 500)
		cmd := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Time: received})
		cmd.Write(raw)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		if received.After(since) {
			recent = append(recent, id)
		}
	}
	if got := e.fetch(); got.New != 2 {
		t.Fatalf("first import: %+v, want the 2 recent messages", got)
	}
	raw, id := teststore.Mail("msg", 9, 500)
	e.dovecot.Append(t, e.user, "INBOX", raw)
	if got := e.fetch(); got.New != 1 {
		t.Fatalf("next run: %+v, want only the new message", got)
	}
	teststore.RequireExactlyOnce(t, e.store, e.mailbox, append(recent, id))
}

// A message the database refuses (a trigger stands in for any store error)
// goes to quarantine alone: the rest of its commit group is stored exactly
// once, and a retry stores it once the cause is gone.
func TestStoreFailureQuarantinesOnlyThatMessage(t *testing.T) {
	testserver.SkipShort(t, "Dovecot")
	forEachDialect(t, func(t *testing.T, dialect string) {
		url := teststore.URL(t, dialect)
		e := setupWith(t, testserver.StartDovecot(t), teststore.OpenURL(t, url, store.Options{}), nil)
		db := teststore.RawDB(t, url)
		poison := map[string]string{
			"sqlite": `CREATE TRIGGER poison BEFORE INSERT ON threads WHEN NEW.subject LIKE 'poison%'
				BEGIN SELECT RAISE(ABORT, 'poisoned message refused'); END`,
			"postgres": `CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN IF NEW.subject LIKE 'poison%' THEN RAISE EXCEPTION 'poisoned message refused'; END IF; RETURN NEW; END $$;
				CREATE TRIGGER poison BEFORE INSERT ON threads FOR EACH ROW EXECUTE FUNCTION poison()`,
		}
		if _, err := db.Exec(poison[dialect]); err != nil {
			t.Fatal(err)
		}
		raws, ids := teststore.Mails("msg", 0, 60, 2000)
		raws[30] = []byte(strings.Replace(string(raws[30]), "Subject: Question 30", "Subject: poison 30", 1))
		e.dovecot.AppendMany(t, e.user, "INBOX", raws)

		if got := e.fetch(); got.New != 59 || got.Quarantined != 1 {
			t.Fatalf("fetch: %+v, want 59 new and 1 quarantined", got)
		}
		teststore.RequireExactlyOnce(t, e.store, e.mailbox, append(append([]string{}, ids[:30]...), ids[31:]...))
		qs, err := e.store.Quarantined(context.Background(), e.mailbox)
		if err != nil || len(qs) != 1 || qs[0].UID != 31 || !strings.Contains(qs[0].Reason, "poisoned message refused") {
			t.Fatalf("quarantine %+v (%v): want UID 31 refused by the database", qs, err)
		}

		drop := map[string]string{"sqlite": `DROP TRIGGER poison`, "postgres": `DROP TRIGGER poison ON threads`}
		if _, err := db.Exec(drop[dialect]); err != nil {
			t.Fatal(err)
		}
		if err := e.store.RetryQuarantined(context.Background(), qs[0].ID); err != nil {
			t.Fatal(err)
		}
		if got := e.fetch(); got.New != 1 {
			t.Fatalf("retry run: %+v, want the quarantined message stored", got)
		}
		teststore.RequireExactlyOnce(t, e.store, e.mailbox, ids)
	})
}

// A database error that is not the message's fault (here a serialization
// failure, as a deadlock or a lost connection would be) ends the run
// instead of quarantining the message: the next run stores it.
func TestDatabaseTroubleEndsTheRunWithoutQuarantine(t *testing.T) {
	t.Parallel()
	url := teststore.URL(t, "postgres")
	e := setupWith(t, testserver.StartDovecot(t), teststore.OpenURL(t, url, store.Options{}), nil)
	db := teststore.RawDB(t, url)
	if _, err := db.Exec(`CREATE FUNCTION trouble() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.subject LIKE 'trouble%' THEN RAISE EXCEPTION 'could not serialize' USING ERRCODE = 'serialization_failure'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER trouble BEFORE INSERT ON threads FOR EACH ROW EXECUTE FUNCTION trouble()`); err != nil {
		t.Fatal(err)
	}
	raws, ids := teststore.Mails("msg", 0, 60, 2000)
	raws[30] = []byte(strings.Replace(string(raws[30]), "Subject: Question 30", "Subject: trouble 30", 1))
	e.dovecot.AppendMany(t, e.user, "INBOX", raws)

	sum, err := e.fetcher.RunLeased(context.Background(), e.locker, fetcher.Job{MailboxID: e.mailbox, Trigger: "test"})
	if err == nil || !strings.Contains(err.Error(), "could not serialize") {
		t.Fatalf("run with database trouble: %+v, %v; want it to fail with the database's error", sum, err)
	}
	if sum.Quarantined != 0 {
		t.Fatalf("run with database trouble quarantined %d messages", sum.Quarantined)
	}
	if qs, err := e.store.Quarantined(context.Background(), e.mailbox); err != nil || len(qs) != 0 {
		t.Fatalf("quarantine %+v (%v): want empty", qs, err)
	}

	if _, err := db.Exec(`DROP TRIGGER trouble ON threads`); err != nil {
		t.Fatal(err)
	}
	if got := e.fetch(); got.New+sum.New != 60 {
		t.Fatalf("runs stored %d and %d messages, want 60 in all", sum.New, got.New)
	}
	teststore.RequireExactlyOnce(t, e.store, e.mailbox, ids)
}

// racingLocker plays a holder that read the same fence, claimed it and
// finished between our read of the fence and our lease.
type racingLocker struct {
	locks.Locker
	store *store.Store
	raced bool
}

func (r *racingLocker) Obtain(ctx context.Context, mailboxID, fence int64) (*locks.Lease, error) {
	if !r.raced {
		r.raced = true
		if err := r.store.ClaimFence(ctx, mailboxID, fence); err != nil {
			return nil, err
		}
	}
	return r.Locker.Obtain(ctx, mailboxID, fence)
}

// Losing the fence claim to a holder that has already gone is not "busy":
// the fetch takes the lease again with a fresh fence and runs.
func TestLostFenceClaimTakesTheLeaseAgain(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	e := setup(t, "sqlite", nil)
	raw, id := teststore.Mail("msg", 1, 500)
	e.dovecot.Append(t, e.user, "INBOX", raw)
	locker := &racingLocker{Locker: e.locker, store: e.store}
	sum, err := e.fetcher.RunLeased(context.Background(), locker, fetcher.Job{MailboxID: e.mailbox, Trigger: "test"})
	if err != nil || sum.New != 1 || !locker.raced {
		t.Fatalf("fetch after a lost claim: %+v, %v", sum, err)
	}
	if fence, _ := e.store.Fence(context.Background(), e.mailbox); fence != 2 {
		t.Fatalf("fence %d: want 2, claimed after the racing holder's 1", fence)
	}
	teststore.RequireExactlyOnce(t, e.store, e.mailbox, []string{id})
}
