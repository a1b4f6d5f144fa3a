package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// Two web instances behind a proxy, on one Redis: they share the sign-in
// count, believe the proxy's X-Forwarded-For, and mark cookies Secure
// because HELPDESK_PUBLIC_URL is https.
func TestServeWebBehindProxySharesSignInLimits(t *testing.T) {
	t.Parallel()
	r := testserver.StartRedis(t)
	w := newWorld(t, teststore.URL(t, "sqlite"),
		"HELPDESK_REDIS_URL=redis://"+r.Addr()+"/0",
		"HELPDESK_PUBLIC_URL=https://help.example.com",
		"HELPDESK_TRUSTED_PROXIES=127.0.0.1")
	if _, stderr, code := w.runEnv([]string{"PW=agent-password-1"}, "user", "add", "--email", "agent@example.com",
		"--name", "Agent", "--role", "agent", "--password-env", "PW"); code != 0 {
		t.Fatalf("user add: exit %d: %s", code, stderr)
	}
	first, second := startWeb(t, w), startWeb(t, w)
	for i := range 10 { // the default limit per account and address, spread over both
		web := []string{first, second}[i%2]
		if code, _ := signIn(t, web, "198.51.100.7", "agent@example.com", "wrong-password"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i, code)
		}
	}
	if code, _ := signIn(t, first, "198.51.100.7", "agent@example.com", "agent-password-1"); code != http.StatusTooManyRequests {
		t.Fatalf("11th attempt from the same client: %d, want 429 (the instances share the count)", code)
	}
	code, session := signIn(t, second, "203.0.113.20", "agent@example.com", "agent-password-1")
	if code != http.StatusSeeOther || session == nil || !session.Secure {
		t.Fatalf("the owner from another address: %d, session cookie %+v; want 303 and a Secure cookie", code, session)
	}
}

// startWeb starts `serve --roles web` on a port of its own and returns
// its base URL once it answers.
func startWeb(t *testing.T, w *world) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	p := w.start([]string{"HELPDESK_LISTEN=" + addr}, "serve", "--roles", "web")
	base := "http://" + addr
	waitFor(t, time.Minute, "the web instance to answer", func() bool {
		if p.exited() {
			t.Fatalf("web instance exited:\n%s", p.failureLog())
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	return base
}

var loginCSRF = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// signIn posts the login form as a proxy forwarding client would; it
// returns the status and the session cookie, if one was set. Cookies are
// carried by hand: they are Secure, and a cookie jar keeps those from
// plain http.
func signIn(t *testing.T, base, client, email, password string) (int, *http.Cookie) {
	t.Helper()
	noRedirect := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form, err := noRedirect.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(form.Body)
	form.Body.Close()
	m := loginCSRF.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field on the login form:\n%s", body)
	}
	values := url.Values{"_csrf": {string(m[1])}, "email": {email}, "password": {password}}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", client)
	for _, c := range form.Cookies() {
		req.AddCookie(c)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "hd_session" {
			return resp.StatusCode, c
		}
	}
	return resp.StatusCode, nil
}
