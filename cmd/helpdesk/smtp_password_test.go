package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/secret"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// The password of an SMTP URL shows nowhere: not when HELPDESK_SMTP_URL
// is malformed at start-up, not when a mailbox's stored URL cannot be used
// (the outbox error in the database, /api/v1/outbox, the status page and
// the log), not from an error stored before URLs were checked.
func TestSMTPPasswordShowsNowhere(t *testing.T) {
	t.Parallel()
	const password = "S3cretPW"
	w := newWorld(t, teststore.URL(t, "sqlite"))
	for _, bad := range []string{
		"smtp://mailer:" + password + "%zz@127.0.0.1:2525", // a bad escape
		"smtp://mailer:4711/" + password + "@127.0.0.1",    // an unencoded /: the digits looked like a port
	} {
		_, stderr, code := w.runEnv([]string{"HELPDESK_SMTP_URL=" + bad}, "serve")
		if code != exitError || !strings.Contains(stderr, "HELPDESK_SMTP_URL") {
			t.Errorf("serve with HELPDESK_SMTP_URL %s: exit %d\n%s", bad, code, stderr)
		}
		for _, piece := range []string{password, "4711", "%zz"} {
			if strings.Contains(stderr, piece) {
				t.Errorf("serve with a bad HELPDESK_SMTP_URL prints %q:\n%s", piece, stderr)
			}
		}
	}

	// A mailbox whose SMTP URL was stored before URLs were checked.
	ctx := context.Background()
	id, err := w.store.CreateMailbox(ctx, helpdesk.MailboxInput{
		Name: "Support", Email: "support@example.test", IMAPHost: "127.0.0.1", IMAPPort: 143,
		IMAPSecurity: "none", IMAPUser: "support", IMAPPassword: "imap-pass", SMTPURL: "smtp://mailer:x@127.0.0.1:1",
	})
	if err != nil {
		t.Fatal(err)
	}
	box, err := secret.NewBox(teststore.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := box.Encrypt("smtp://mailer:" + password + "%zz@127.0.0.1:2525")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.Exec(`UPDATE mailboxes SET smtp_url_enc = $1 WHERE id = $2`, enc, id); err != nil {
		t.Fatal(err)
	}
	admin, err := w.store.CreateUser(ctx, helpdesk.UserInput{Email: "admin@example.test", Name: "Admin", Role: helpdesk.RoleAdmin, Password: "admin-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	// Two mails: the notifier tries the first; the second failed before
	// URLs were checked, with the URL in its error.
	for _, to := range []string{"first@example.test", "second@example.test"} {
		if err := w.store.EnqueueTestEmail(ctx, to, "test"); err != nil {
			t.Fatal(err)
		}
	}
	oldError := `SMTP URL: parse "smtp://mailer:` + password + `%zz@127.0.0.1:2525": invalid URL escape "%zz"`
	if _, err := w.db.Exec(`UPDATE outbox SET status = 'failed', last_error = $1 WHERE id = (SELECT MAX(id) FROM outbox)`, oldError); err != nil {
		t.Fatal(err)
	}

	addr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	p := w.start([]string{"HELPDESK_LISTEN=" + addr}, "serve", "--roles", "web,notifier")
	waitFor(t, time.Minute, "the notifier to record why the mail waits", func() bool {
		return w.count(`SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND last_error LIKE '%SMTP URL%'`) == 1 || p.exited()
	})
	if p.exited() {
		t.Fatalf("serve exited:\n%s", p.failureLog())
	}
	var stored []string
	if err := w.db.Select(&stored, `SELECT last_error FROM outbox WHERE status = 'pending'`); err != nil {
		t.Fatal(err)
	}

	token, _, err := w.store.CreateAPIToken(ctx, admin.ID, helpdesk.APITokenInput{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	session, _, err := w.store.CreateSession(ctx, admin.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string, header ...string) string {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(header[0], header[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, body)
		}
		return string(body)
	}
	api := get("/api/v1/outbox", "Authorization", "Bearer "+token)
	page := get("/admin/status", "Cookie", "hd_session="+session)
	for name, text := range map[string]string{
		"the stored error": strings.Join(stored, "\n"), "/api/v1/outbox": api, "the status page": page, "the log": p.Log(),
	} {
		if !strings.Contains(text, "SMTP URL") {
			t.Errorf("%s does not say what is wrong with the SMTP URL:\n%s", name, text)
		}
		for _, piece := range []string{password, "%zz"} {
			if strings.Contains(text, piece) {
				t.Errorf("%s shows %q:\n%s", name, piece, text)
			}
		}
	}
}
