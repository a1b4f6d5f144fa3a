package fetcher_test

import (
	"context"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// quietImportSetup is a mailbox with auto-acknowledgement on, an admin who
// wants new-conversation mail, and n messages already in its INBOX.
func quietImportSetup(t *testing.T, dialect string, n int) (*env, []string) {
	t.Helper()
	return withOldMail(t, setup(t, dialect, autoAck), n)
}

func autoAck(in *helpdesk.MailboxInput) { in.AutoAck = true }

// withOldMail adds to e an admin who wants new-conversation mail and n
// messages in its INBOX.
func withOldMail(t *testing.T, e *env, n int) (*env, []string) {
	t.Helper()
	if _, err := e.store.CreateUser(context.Background(), helpdesk.UserInput{
		Email: "agent@example.test", Name: "Agent", Role: "admin", Password: "long-enough-password",
	}); err != nil {
		t.Fatal(err)
	}
	raws, ids := teststore.Mails("old", 0, n, 1000)
	e.dovecot.AppendMany(t, e.user, "INBOX", raws)
	return e, ids
}

// requireOutbox fails unless the outbox holds exactly notifications agent
// notifications and acks auto-acknowledgements.
func (e *env) requireOutbox(notifications, acks int) {
	e.t.Helper()
	for kind, want := range map[string]int{"notification": notifications, "auto-ack": acks} {
		rows, err := e.store.OutboxByKind(context.Background(), kind, 1000)
		if err != nil || len(rows) != want {
			e.t.Fatalf("outbox holds %d %s mails (%v), want %d", len(rows), kind, err, want)
		}
	}
}

// Mail already in a folder when the helpdesk first looks at it is stored,
// but nobody is told and no customer gets an auto-ack about old mail; mail
// that arrives after that notifies, once.
func TestFirstImportNotifiesNobody(t *testing.T) {
	testserver.SkipShort(t, "Dovecot")
	forEachDialect(t, func(t *testing.T, dialect string) {
		const n = 30
		e, ids := quietImportSetup(t, dialect, n)

		if got := e.fetch(); got.New != n {
			t.Fatalf("first import: %+v, want %d new", got, n)
		}
		teststore.RequireExactlyOnce(t, e.store, e.mailbox, ids)
		e.requireOutbox(0, 0)

		raw, id := teststore.Mail("new", 0, 1000)
		e.dovecot.Append(t, e.user, "INBOX", raw)
		if got := e.fetch(); got.New != 1 {
			t.Fatalf("run after the import: %+v, want 1 new", got)
		}
		e.fetch()
		teststore.RequireExactlyOnce(t, e.store, e.mailbox, append(ids, id))
		e.requireOutbox(1, 1)
	})
}

// A first import that dies after its first batch is still an import when a
// later run goes on with it: the mark was saved before the first batch.
func TestFirstImportCutShortStaysQuiet(t *testing.T) {
	testserver.SkipShort(t, "Dovecot")
	forEachDialect(t, func(t *testing.T, dialect string) {
		const n, batch = 20, 5
		e, ids := quietImportSetup(t, dialect, n)
		e.fetcher = fetcher.New(e.store, fetcher.Config{Holder: "test", BatchSize: batch})

		// The run's lease context ends right after the first batch, as
		// when the process dies or loses its lease: nothing more is written.
		ctx, crash := context.WithCancel(context.Background())
		defer crash()
		fence, err := e.store.Fence(ctx, e.mailbox)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.ClaimFence(ctx, e.mailbox, fence+1); err != nil {
			t.Fatal(err)
		}
		job := fetcher.Job{MailboxID: e.mailbox, Fence: fence + 1, Trigger: "test", Progress: func(_ string, done, _ int) {
			if done == batch {
				crash()
			}
		}}
		first, err := e.fetcher.Run(ctx, nil, job)
		if err == nil {
			t.Fatalf("the cut-short run ended without error: %+v", first)
		}
		st, _ := e.store.FetchHandle(e.mailbox, 0).State(context.Background(), "INBOX")
		if first.New != batch || st.LastUID != batch {
			t.Fatalf("cut-short run stored %d, fetch state %+v: want the first batch of %d only", first.New, st, batch)
		}

		if got := e.fetch(); got.New != n-batch {
			t.Fatalf("run after the crash: %+v, want the other %d", got, n-batch)
		}
		teststore.RequireExactlyOnce(t, e.store, e.mailbox, ids)
		e.requireOutbox(0, 0)
	})
}

// A message of the first import that was quarantined and is retried later
// is still old mail; one that arrived after the import notifies on retry.
func TestRetriedImportMailStaysQuiet(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	url := teststore.URL(t, "sqlite")
	e, _ := withOldMail(t, setupWith(t, testserver.StartDovecot(t), teststore.OpenURL(t, url, store.Options{}), autoAck), 0)
	db := teststore.RawDB(t, url)
	if _, err := db.Exec(`CREATE TRIGGER poison BEFORE INSERT ON threads WHEN NEW.subject LIKE 'poison%'
		BEGIN SELECT RAISE(ABORT, 'poisoned message refused'); END`); err != nil {
		t.Fatal(err)
	}
	poisoned := func(prefix string) []byte {
		raw, _ := teststore.Mail(prefix, 0, 500)
		return []byte(strings.Replace(string(raw), "Subject: Question 0", "Subject: poison 0", 1))
	}
	e.dovecot.Append(t, e.user, "INBOX", poisoned("old"))
	if got := e.fetch(); got.Quarantined != 1 {
		t.Fatalf("first import: %+v, want 1 quarantined", got)
	}
	e.dovecot.Append(t, e.user, "INBOX", poisoned("new"))
	if got := e.fetch(); got.Quarantined != 1 {
		t.Fatalf("run after the import: %+v, want 1 quarantined", got)
	}

	if _, err := db.Exec(`DROP TRIGGER poison`); err != nil {
		t.Fatal(err)
	}
	qs, err := e.store.Quarantined(context.Background(), e.mailbox)
	if err != nil || len(qs) != 2 {
		t.Fatalf("quarantine %+v (%v): want 2", qs, err)
	}
	for _, q := range qs {
		if err := e.store.RetryQuarantined(context.Background(), q.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.fetch(); got.New != 2 {
		t.Fatalf("retry run: %+v, want both stored", got)
	}
	e.requireOutbox(1, 1)
}
