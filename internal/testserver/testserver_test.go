package testserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/smtp"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func testMessage(i, size int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Customer %d <c%d@example.com>\r\nTo: support@example.com\r\n"+
		"Subject: Help %d\r\nMessage-ID: <m%d@example.com>\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\n\r\n", i, i, i, i)
	line := "The printer is on fire again, please send help quickly.\r\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	return []byte(b.String())
}

func uidsIn(t *testing.T, c *imapclient.Client, folder string) (uint32, []imap.UID) {
	t.Helper()
	sel, err := c.Select(folder, nil).Wait()
	if err != nil {
		t.Fatalf("select %s: %v", folder, err)
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		t.Fatalf("uid search: %v", err)
	}
	return sel.UIDValidity, data.AllUIDs()
}

func TestDovecot(t *testing.T) {
	t.Parallel()
	SkipShort(t, "Dovecot")
	t0 := time.Now()
	d := StartDovecot(t)
	t.Logf("dovecot started in %v on %s", time.Since(t0), d.Addr())
	d.AddUser(t, "support", "secret")

	var want []imap.UID
	for i := 0; i < 3; i++ {
		want = append(want, imap.UID(d.Append(t, "support", "INBOX", testMessage(i, 1000))))
	}
	c := d.Dial(t, "support")
	validity, got := uidsIn(t, c, "INBOX")
	if validity == 0 {
		t.Error("UIDVALIDITY is 0")
	}
	if !reflect.DeepEqual(got, want) || len(got) != 3 {
		t.Errorf("UIDs = %v, want %v", got, want)
	}

	// A second user appears without a restart; bad passwords fail fast.
	d.AddUser(t, "other", "pw2")
	d.Dial(t, "other")
	bad, err := imapclient.DialInsecure(d.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.Login("other", "wrong").Wait(); err == nil {
		t.Error("login with a wrong password succeeded")
	}

	// Delete and recreate a folder: new UIDVALIDITY.
	uids := d.AppendMany(t, "support", "Sales", [][]byte{testMessage(10, 500), testMessage(11, 500)})
	if len(uids) != 2 || uids[0] == 0 || uids[1] <= uids[0] {
		t.Errorf("AppendMany UIDs = %v", uids)
	}
	v1, got := uidsIn(t, c, "Sales")
	if len(got) != 2 {
		t.Errorf("Sales has UIDs %v, want 2", got)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	d.DeleteFolder(t, "support", "Sales")
	d.CreateFolder(t, "support", "Sales")
	v2, got := uidsIn(t, c, "Sales")
	if v1 == v2 {
		t.Errorf("UIDVALIDITY unchanged after delete+create: %d", v1)
	}
	if len(got) != 0 {
		t.Errorf("recreated folder has UIDs %v", got)
	}

	// Non-ASCII folder names go through modified UTF-7 the same way.
	d.AppendMany(t, "support", "Entwürfe & Co", [][]byte{testMessage(20, 300)})
	if _, got := uidsIn(t, c, "Entwürfe & Co"); len(got) != 1 {
		t.Errorf("Entwürfe & Co has UIDs %v, want 1", got)
	}

	// Kill: the client loses its connection, the port is dead. Restart:
	// same port, same mail.
	d.Kill()
	if d.Running() {
		t.Error("Running after Kill")
	}
	if err := c.Noop().Wait(); err == nil {
		t.Error("NOOP succeeded on a killed server")
	}
	if err := checkGreeting(d.Addr()); err == nil {
		t.Error("killed server still greets")
	}
	t0 = time.Now()
	d.Restart(t)
	t.Logf("dovecot restarted in %v", time.Since(t0))
	c2 := d.Dial(t, "support")
	if v, got := uidsIn(t, c2, "INBOX"); v != validity || !reflect.DeepEqual(got, want) {
		t.Errorf("after restart: UIDVALIDITY %d UIDs %v, want %d %v", v, got, validity, want)
	}
}

func TestDovecotTLS(t *testing.T) {
	t.Parallel()
	SkipShort(t, "Dovecot")
	t0 := time.Now()
	d := StartDovecotTLS(t)
	t.Logf("dovecot with TLS started in %v", time.Since(t0))
	d.AddUser(t, "support", "secret")
	d.Append(t, "support", "INBOX", testMessage(1, 2000))

	check := func(name string, c *imapclient.Client, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: dial: %v", name, err)
		}
		defer c.Close()
		if err := c.Login("support", "secret").Wait(); err != nil {
			t.Fatalf("%s: login: %v", name, err)
		}
		sel, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatalf("%s: select: %v", name, err)
		}
		if sel.NumMessages != 1 {
			t.Errorf("%s: %d messages, want 1", name, sel.NumMessages)
		}
	}
	c, err := imapclient.DialTLS(d.TLSAddr(), &imapclient.Options{TLSConfig: d.TLSConfig()})
	check("imaps", c, err)
	c, err = imapclient.DialStartTLS(d.Addr(), &imapclient.Options{TLSConfig: d.TLSConfig()})
	check("starttls", c, err)
	c, err = imapclient.DialTLS(d.TLSAddr(), &imapclient.Options{TLSConfig: &tls.Config{RootCAs: d.CertPool(), ServerName: "localhost"}})
	check("imaps by name", c, err)

	// Without the pool the certificate is not trusted.
	c, err = imapclient.DialTLS(d.TLSAddr(), &imapclient.Options{TLSConfig: &tls.Config{ServerName: "127.0.0.1"}})
	if err == nil {
		err = c.Login("support", "secret").Wait()
		c.Close()
	}
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Errorf("untrusted certificate accepted or wrong error: %v", err)
	}
}

// TestDovecotSeedRate measures AppendMany with 10,000 messages of 4 KB.
func TestDovecotSeedRate(t *testing.T) {
	t.Parallel()
	SkipShort(t, "Dovecot, 10,000 messages")
	d := StartDovecot(t)
	d.AddUser(t, "bulk", "pw")
	const n = 10000
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = testMessage(i, 4096)
	}
	t0 := time.Now()
	uids := d.AppendMany(t, "bulk", "INBOX", msgs)
	el := time.Since(t0)
	t.Logf("seeded %d x 4 KB in %v: %.0f messages/s", n, el, n/el.Seconds())
	if len(uids) != n || uids[n-1] != uids[0]+n-1 {
		t.Fatalf("got %d UIDs, first %d last %d", len(uids), uids[0], uids[len(uids)-1])
	}
	c := d.Dial(t, "bulk")
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != n {
		t.Errorf("INBOX has %d messages, want %d", sel.NumMessages, n)
	}
	if el > 30*time.Second {
		t.Errorf("seeding took %v, want well under 30s", el)
	}
}

func TestPostgresURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Now()
	u1 := PostgresURL(t)
	t.Logf("first PostgresURL (cluster start + database) in %v: %s", time.Since(t0), u1)
	t0 = time.Now()
	u2 := PostgresURL(t)
	t.Logf("second PostgresURL in %v", time.Since(t0))
	if u1 == u2 {
		t.Fatalf("same URL twice: %s", u1)
	}
	names := map[string]bool{}
	for _, u := range []string{u1, u2} {
		c, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatalf("connect %s: %v", u, err)
		}
		defer c.Close(ctx)
		var name string
		if err := c.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		names[name] = true
		if _, err := c.Exec(ctx, "CREATE TABLE t (x int)"); err != nil {
			t.Fatalf("create table in %s: %v", name, err)
		}
	}
	if len(names) != 2 {
		t.Errorf("databases %v, want two distinct", names)
	}
}

func TestStartPostgresKillRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Now()
	pg := StartPostgres(t)
	t.Logf("private postgres cluster started in %v", time.Since(t0))
	u := pg.NewDatabase(t)
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE TABLE t (x int)"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		// A committed row survives SIGKILL (synchronous_commit on).
		if _, err := c.Exec(ctx, "INSERT INTO t VALUES ($1)", i); err != nil {
			t.Fatal(err)
		}
		pg.Kill()
		if pg.Running() {
			t.Error("Running after Kill")
		}
		if err := c.Ping(ctx); err == nil {
			t.Error("ping succeeded on a killed cluster")
		}
		c.Close(ctx)
		t0 = time.Now()
		pg.Restart(t)
		t.Logf("postgres restarted in %v", time.Since(t0))
		if c, err = pgx.Connect(ctx, u); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != i {
			t.Fatalf("after restart %d: %d rows, err %v", i, n, err)
		}
	}
	c.Close(ctx)
}

func sendMail(addr string, auth smtp.Auth, id string) error {
	msg := "From: helpdesk@example.com\r\nTo: customer@example.com\r\nSubject: Re: Help\r\n" +
		"Message-ID: " + id + "\r\n\r\nWe are on it.\r\n"
	return smtp.SendMail(addr, auth, "helpdesk@example.com", []string{"customer@example.com", "cc@example.com"}, []byte(msg))
}

func TestSMTPSink(t *testing.T) {
	t.Parallel()
	s := StartSMTP(t)
	if err := sendMail(s.Addr(), nil, "<one@helpdesk>"); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "helpdesk@example.com" || !reflect.DeepEqual(m.To, []string{"customer@example.com", "cc@example.com"}) ||
		m.MessageID != "<one@helpdesk>" || !strings.Contains(string(m.Data), "We are on it.") {
		t.Errorf("recorded %+v", m)
	}

	s.FailRate(1)
	err := sendMail(s.Addr(), nil, "<two@helpdesk>")
	if err == nil || !strings.Contains(err.Error(), "451") {
		t.Errorf("with FailRate(1): err = %v, want 451", err)
	}
	s.FailRate(0)

	s.DropRate(1)
	if err := sendMail(s.Addr(), nil, "<three@helpdesk>"); err == nil {
		t.Error("with DropRate(1): send succeeded")
	}
	s.DropRate(0)

	s.Delay(200 * time.Millisecond)
	t0 := time.Now()
	if err := sendMail(s.Addr(), nil, "<four@helpdesk>"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el < 200*time.Millisecond {
		t.Errorf("Delay(200ms): send took %v", el)
	}
	s.Delay(0)
	if got := len(s.Messages()); got != 2 || s.Attempts() != 4 {
		t.Errorf("%d messages after %d attempts, want 2 after 4", got, s.Attempts())
	}
}

func TestSMTPSinkAuth(t *testing.T) {
	t.Parallel()
	s := StartSMTP(t)
	s.RequireAuth("mailer", "p@ss")
	if err := sendMail(s.Addr(), nil, "<noauth@helpdesk>"); err == nil {
		t.Error("send without AUTH accepted")
	}
	// net/smtp only sends PLAIN to localhost without TLS, by name.
	if err := sendMail(s.Addr(), smtp.PlainAuth("", "mailer", "wrong", "127.0.0.1"), "<bad@helpdesk>"); err == nil {
		t.Error("send with a wrong password accepted")
	}
	if err := sendMail(s.Addr(), smtp.PlainAuth("", "mailer", "p@ss", "127.0.0.1"), "<ok@helpdesk>"); err != nil {
		t.Fatal(err)
	}
	msgs := s.WaitMessages(t, 1, time.Second)
	if len(msgs) != 1 || msgs[0].AuthUser != "mailer" || msgs[0].MessageID != "<ok@helpdesk>" {
		t.Errorf("recorded %+v", msgs)
	}
	if want := "smtp://mailer:p%40ss@" + s.Addr(); s.URL() != want {
		t.Errorf("URL = %q, want %q", s.URL(), want)
	}
}

func TestChromium(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Skip("chromium not installed")
	}
	if p := Chromium(t); p == "" {
		t.Error("empty path")
	}
	f := ChromiumFlags()
	f[0] = "changed"
	if ChromiumFlags()[0] != "--headless" {
		t.Error("ChromiumFlags shares its slice")
	}
}

func TestEncodeMailboxName(t *testing.T) {
	for in, want := range map[string]string{
		"INBOX":          "INBOX",
		"A & B":          "A &- B",
		"Entwürfe":       "Entw&APw-rfe",
		"日本語":            "&ZeVnLIqe-",
		"~peter/mail/台北": "~peter/mail/&U,BTFw-",
	} {
		if got := encodeMailboxName(in); got != want {
			t.Errorf("encodeMailboxName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseAppendUID(t *testing.T) {
	got, err := parseAppendUID("A1 OK [APPENDUID 1700000000 4:6,9] Append completed.")
	if err != nil || !reflect.DeepEqual(got, []uint32{4, 5, 6, 9}) {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestAppendBatches(t *testing.T) {
	t.Parallel()
	big := make([]byte, 20<<20)
	small := []byte("x")
	msgs := [][]byte{big, big, small, big}
	for i := 0; i < 1001; i++ {
		msgs = append(msgs, small)
	}
	got := appendBatches(msgs)
	want := [][2]int{{0, 1}, {1, 3}, {3, 503}, {503, 1003}, {1003, 1005}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("appendBatches = %v, want %v", got, want)
	}
}
