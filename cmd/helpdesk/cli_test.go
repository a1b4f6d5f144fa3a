package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
	"github.com/helpdesk/helpdesk/locks"
)

// A fetch killed with SIGKILL mid-run and run again stores every message
// exactly once.
func TestFetchKilledMidRunThenRerun(t *testing.T) {
	t.Parallel()
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			testserver.SkipShort(t, "Dovecot")
			d := testserver.StartDovecot(t)
			w := newWorld(t, teststore.URL(t, dialect))
			id := w.addMailbox(d, "support", "secret-pass")
			raws, ids := teststore.Mails("kill", 0, 1500, 2000)
			d.AppendMany(t, "support", "INBOX", raws)

			for round := 0; round < 3; round++ {
				before := w.stored(id)
				p := w.start(nil, "fetch", "--mailbox", itoa(id))
				waitFor(t, 2*time.Minute, "the fetch to store some messages", func() bool {
					return w.stored(id) > before+50 || p.exited()
				})
				p.signal(syscall.SIGKILL)
				p.wait(t, 10*time.Second)
			}
			stdout, _ := w.run(0, "fetch", "--mailbox", itoa(id), "--json")
			var sum struct{ Mailbox, New, Duplicates, Quarantined int64 }
			if err := json.Unmarshal([]byte(stdout), &sum); err != nil || sum.Mailbox != id {
				t.Fatalf("fetch --json printed %q (%v)", stdout, err)
			}
			teststore.RequireExactlyOnce(t, w.store, id, ids)
			// A last run finds nothing at all.
			stdout, _ = w.run(0, "fetch", "--mailbox", itoa(id), "--json")
			if !strings.Contains(stdout, `"new":0,"duplicates":0,"quarantined":0`) {
				t.Fatalf("run after completion found something: %s", stdout)
			}
		})
	}
}

// `helpdesk fetch` exits 3 naming the holder when another process holds the
// mailbox's lease (here: the file lock of the embedded mode, then Redis).
func TestFetchExitsThreeWhenHeld(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	d := testserver.StartDovecot(t)
	t.Run("embedded", func(t *testing.T) {
		w := newWorld(t, teststore.URL(t, "sqlite"))
		id := w.addMailbox(d, "embedded", "secret-pass")
		release, err := locks.LockDataDir(w.dataDir)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		_, stderr, code := w.runEnv(nil, "fetch", "--mailbox", itoa(id))
		if code != 3 || !strings.Contains(stderr, "locked by pid") {
			t.Fatalf("exit %d, stderr %q; want 3 naming the holder", code, stderr)
		}
	})
	t.Run("redis", func(t *testing.T) {
		r := testserver.StartRedis(t)
		w := newWorld(t, teststore.URL(t, "sqlite"), "HELPDESK_REDIS_URL=redis://"+r.Addr()+"/0")
		id := w.addMailbox(d, "redis", "secret-pass")
		holder := locks.NewRedis(r.Client(t), locks.Options{Host: "other-host", PID: 4242, Instance: "inst-9"})
		lease, err := holder.Obtain(context.Background(), id, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer lease.Release()
		_, stderr, code := w.runEnv(nil, "fetch", "--mailbox", itoa(id))
		if code != 3 || !strings.Contains(stderr, "other-host") || !strings.Contains(stderr, "4242") {
			t.Fatalf("exit %d, stderr %q; want 3 naming other-host pid 4242", code, stderr)
		}
	})
}

func TestCommandsRefuseOldSchema(t *testing.T) {
	t.Parallel()
	w := &world{t: t, bin: binPath, dbURL: teststore.URL(t, "sqlite"), dataDir: t.TempDir()}
	w.env = []string{"HELPDESK_DATABASE_URL=" + w.dbURL, "HELPDESK_DATA_DIR=" + w.dataDir, "HELPDESK_SECRET_KEY=" + teststore.SecretKey, raceExitEnv}
	_, stderr, code := w.runEnv(nil, "fetch", "--mailbox", "1")
	if code != 1 || !strings.Contains(stderr, "helpdesk migrate") {
		t.Fatalf("fetch on an unmigrated database: exit %d, %q; want a clear error naming `helpdesk migrate`", code, stderr)
	}
	w.run(0, "migrate")
	w.run(0, "migrate") // twice is harmless
}

func TestBadCommandLinesAndConfig(t *testing.T) {
	t.Parallel()
	w := newWorld(t, teststore.URL(t, "sqlite"))
	for _, tc := range []struct {
		args []string
		env  []string
		code int
		want string
	}{
		{[]string{"frobnicate"}, nil, 2, "unknown command"},
		{[]string{"fetch"}, nil, 2, "--mailbox"},
		{[]string{"fetch", "--mailbox", "abc"}, nil, 2, "invalid value"},
		{[]string{"serve", "--roles", "web,bogus"}, nil, 2, "unknown role"},
		{[]string{"mailbox", "add", "--name", "x", "--email", "not-an-address", "--imap-host", "h", "--imap-port", "99999",
			"--imap-security", "rot13", "--imap-user", "u", "--imap-password-env", "PW"}, []string{"PW=x"}, 2, "imap_security"},
		{[]string{"mailbox", "add", "--name", "x"}, nil, 2, "--imap-password-env"},
		{[]string{"fetch", "--mailbox", "1"}, []string{"HELPDESK_DATABASE_URL=mysql://nope"}, 1, "want postgres://"},
		{[]string{"fetch", "--mailbox", "1"}, []string{"HELPDESK_REDIS_URL=http://x"}, 1, "HELPDESK_REDIS_URL"},
		{[]string{"fetch", "--mailbox", "999"}, nil, 1, "not found"},
		{[]string{"serve", "--roles", "fetcher"}, []string{"HELPDESK_FETCH_CONCURRENCY=0"}, 1, "HELPDESK_FETCH_CONCURRENCY"},
		{[]string{"serve", "--roles", "fetcher"}, []string{"HELPDESK_FETCH_CONCURRENCY=many"}, 1, "HELPDESK_FETCH_CONCURRENCY"},
		{[]string{"serve", "--roles", "fetcher"}, []string{"HELPDESK_FETCH_MAX_BYTES=lots"}, 1, "HELPDESK_FETCH_MAX_BYTES"},
		{[]string{"serve", "--roles", "fetcher"}, []string{"HELPDESK_FETCH_MAX_BYTES=-5MiB"}, 1, "HELPDESK_FETCH_MAX_BYTES"},
		{[]string{"serve", "--roles", "fetcher"}, []string{"HELPDESK_FETCH_MAX_BYTES=100"}, 1, "at least 1MiB"},
		{[]string{"serve", "--roles", "fetcher"}, []string{"HELPDESK_FETCH_MAX_MAILBOXES=-1"}, 1, "HELPDESK_FETCH_MAX_MAILBOXES"},
		{[]string{"serve", "--roles", "web"}, []string{"HELPDESK_PUBLIC_URL=help.example.com"}, 1, "HELPDESK_PUBLIC_URL"},
		{[]string{"serve", "--roles", "web"}, []string{"HELPDESK_PUBLIC_URL=ftp://help.example.com"}, 1, "HELPDESK_PUBLIC_URL"},
		{[]string{"serve", "--roles", "web"}, []string{"HELPDESK_PUBLIC_URL=https://help.example.com/?x=1"}, 1, "HELPDESK_PUBLIC_URL"},
		{[]string{"serve", "--roles", "web"}, []string{"HELPDESK_TRUSTED_PROXIES=10.0.0.0/8,proxy.local"}, 1, `"proxy.local" is not an address or CIDR`},
		{[]string{"serve", "--roles", "web"}, []string{"HELPDESK_TRUSTED_PROXIES=10.0.0.0/33"}, 1, "HELPDESK_TRUSTED_PROXIES"},
		{[]string{"serve", "--roles", "web"}, []string{"HELPDESK_MAIL_HTML_MAX_BYTES=huge"}, 1, "HELPDESK_MAIL_HTML_MAX_BYTES"},
		{[]string{"serve", "--roles", "web"}, []string{"HELPDESK_MAIL_HTML_MAX_BYTES=100"}, 1, "at least 64KiB"},
		{[]string{"serve", "--roles", "web"}, []string{"HELPDESK_ATTACHMENT_MAX_BYTES=huge"}, 1, "HELPDESK_ATTACHMENT_MAX_BYTES"},
		{[]string{"serve", "--roles", "web"}, []string{"HELPDESK_REPLY_ATTACHMENTS_MAX_BYTES=0"}, 1, "HELPDESK_REPLY_ATTACHMENTS_MAX_BYTES"},
	} {
		_, stderr, code := w.runEnv(tc.env, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("helpdesk %s: exit %d, stderr %q; want exit %d mentioning %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.want)
		}
	}
	if ms, _ := w.store.Mailboxes(context.Background()); len(ms) != 0 {
		t.Fatalf("bad input created %d mailboxes", len(ms))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
