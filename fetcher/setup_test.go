package fetcher_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/helpdesk"
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
	store   *helpdesk.Store
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

func setupWith(t testing.TB, d *testserver.Dovecot, store *helpdesk.Store, tweak func(*helpdesk.MailboxInput)) *env {
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

// requireExactlyOnce checks each expected Message-ID is stored exactly once
// and nothing else is stored.
func requireExactlyOnce(t testing.TB, a helpdesk.Audit, ids []string) {
	t.Helper()
	missing, twice := 0, 0
	for _, id := range ids {
		switch n := a.StoredMessageIDs[id]; {
		case n == 0:
			missing++
		case n > 1:
			twice++
		}
	}
	if missing > 0 || twice > 0 || len(a.StoredMessageIDs) != len(ids) {
		t.Fatalf("want %d messages stored exactly once: %d missing, %d stored more than once, %d distinct stored",
			len(ids), missing, twice, len(a.StoredMessageIDs))
	}
	if a.FenceViolations != 0 {
		t.Fatalf("%d ledger writes accepted out of fence order", a.FenceViolations)
	}
}

// testMail is a realistic small customer mail of about size bytes.
func testMail(i, size int) ([]byte, string) {
	id := fmt.Sprintf("msg-%06d@customer.test", i)
	body := strings.Repeat(fmt.Sprintf("Line %d of a customer question about order %d.\r\n", i, i), max(1, size/50))
	raw := fmt.Sprintf("From: Customer %d <customer%d@customer.test>\r\nTo: support@example.test\r\n"+
		"Subject: Question %d\r\nDate: Mon, 23 Nov 2026 10:%02d:%02d +0000\r\nMessage-ID: <%s>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
		i, i%97, i, (i/60)%60, i%60, id, body)
	return []byte(raw), id
}

func testMails(from, n, size int) ([][]byte, []string) {
	raws := make([][]byte, n)
	ids := make([]string, n)
	for i := range n {
		raws[i], ids[i] = testMail(from+i, size)
	}
	return raws, ids
}
