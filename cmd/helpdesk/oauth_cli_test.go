package main

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// An OAuth2 mailbox added with the CLI fetches with tokens; once the
// provider refuses its refresh token, `helpdesk fetch` exits 4 saying the
// mailbox must be reconnected, and asks the provider nothing more.
func TestOAuth2MailboxFromTheCommandLine(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	p := testserver.StartOAuthProvider(t)
	d := testserver.StartDovecotOAuth2(t, testserver.DovecotOAuth2Options{IntrospectURL: p.IntrospectURL()})
	d.AddUser(t, "support", "only-for-appends")
	w := newWorld(t, teststore.URL(t, "sqlite"))
	host, port, _ := net.SplitHostPort(d.Addr())
	add := []string{"mailbox", "add", "--name", "Support", "--email", "support@example.test",
		"--imap-host", host, "--imap-port", port, "--imap-security", "none", "--imap-user", "support",
		"--imap-auth", "oauth2", "--oauth-token-url", p.TokenURL(), "--oauth-client-id", p.ClientID,
		"--oauth-client-secret-env", "TEST_SECRET", "--oauth-refresh-token-env", "TEST_REFRESH"}
	env := []string{"TEST_SECRET=" + p.ClientSecret, "TEST_REFRESH=" + p.Grant("support")}

	// Bad command lines: no provider or token URL; a password as well.
	noURL := append([]string{}, add[:len(add)-10]...)
	noURL = append(noURL, "--imap-auth", "oauth2", "--oauth-client-id", p.ClientID, "--oauth-refresh-token-env", "TEST_REFRESH")
	if _, stderr, code := w.runEnv(env, noURL...); code != exitUsage || !strings.Contains(stderr, "--oauth-token-url") {
		t.Fatalf("no token URL: exit %d: %s", code, stderr)
	}
	if _, stderr, code := w.runEnv(env, append(add, "--imap-password-env", "TEST_SECRET")...); code != exitUsage || !strings.Contains(stderr, "not a password") {
		t.Fatalf("password with oauth2: exit %d: %s", code, stderr)
	}

	stdout, stderr, code := w.runEnv(env, add...)
	if code != 0 {
		t.Fatalf("mailbox add: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	id, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		t.Fatalf("mailbox add printed %q", stdout)
	}
	raw, _ := teststore.Mail("cli", 1, 500)
	d.Append(t, "support", "INBOX", raw)
	if stdout, _ := w.run(0, "fetch", "--mailbox", itoa(id)); !strings.Contains(stdout, "1 new") {
		t.Fatalf("fetch: %s", stdout)
	}

	p.Revoke("support")
	for range 2 {
		_, stderr := w.run(exitReconnect, "fetch", "--mailbox", itoa(id))
		if !strings.Contains(stderr, "must be reconnected") {
			t.Fatalf("fetch of a revoked mailbox says: %s", stderr)
		}
	}
	if n := p.TokenRequests("refresh_token"); n != 2 {
		t.Fatalf("%d token requests, want 2: none after the refusal", n)
	}
}
