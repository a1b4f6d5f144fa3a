package fetcher_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
	"github.com/helpdesk/helpdesk/locks"
)

func TestMain(m *testing.M) { testserver.Main(m) }

// env is one test's world: a private Dovecot with one account, a fresh
// database and a mailbox pointing at the account.
type env struct {
	t       testing.TB
	dovecot *testserver.Dovecot
	store   *store.Store
	user    string
	mailbox int64
	fetcher *fetcher.Fetcher
	locker  locks.Locker
}

func setup(t testing.TB, dialect string, tweak func(*helpdesk.MailboxInput)) *env {
	t.Helper()
	d := testserver.StartDovecot(t)
	return setupWith(t, d, teststore.Open(t, dialect), tweak)
}

func setupWith(t testing.TB, d *testserver.Dovecot, store *store.Store, tweak func(*helpdesk.MailboxInput)) *env {
	t.Helper()
	e := &env{t: t, dovecot: d, store: store, user: "support"}
	d.AddUser(t, e.user, "secret-pass")
	host, port, _ := net.SplitHostPort(d.Addr())
	p, _ := strconv.Atoi(port)
	in := helpdesk.MailboxInput{
		Name: "Support", Email: "support@example.test", IMAPHost: host, IMAPPort: p, IMAPSecurity: "none",
		IMAPUser: e.user, IMAPPassword: "secret-pass", Enabled: true,
	}
	if tweak != nil {
		tweak(&in)
	}
	id, err := store.CreateMailbox(context.Background(), in)
	if err != nil {
		t.Fatalf("create mailbox: %v", err)
	}
	e.mailbox = id
	e.fetcher = fetcher.New(store, fetcher.Config{Holder: "test", TLSConfig: d.TLSConfig()})
	e.locker = locks.NewLocal(locks.Options{TTL: 5 * time.Second})
	return e
}

// fetch runs one leased fetch, as the CLI and the service do.
func (e *env) fetch() fetcher.Summary {
	e.t.Helper()
	sum, err := e.fetcher.RunLeased(context.Background(), e.locker, fetcher.Job{MailboxID: e.mailbox, Trigger: "test"})
	if err != nil {
		e.t.Fatalf("fetch: %v", err)
	}
	return sum
}

func (e *env) audit() helpdesk.Audit {
	e.t.Helper()
	a, err := e.store.AuditMailbox(context.Background(), e.mailbox)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}
