package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/secret"
)

func TestLoginLogout(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		c := e.anonymous(t)

		// Anonymous visitors are sent to the login form.
		resp, _ := c.get("/admin/status")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
			t.Fatalf("anonymous /admin/status: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}

		// A form posted without its CSRF token is refused.
		resp, _ = c.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("login without CSRF: %d", resp.StatusCode)
		}
		// Wrong password.
		if resp := c.login(adminEmail, "wrong-password"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", resp.StatusCode)
		}
		// Right password: a session cookie, HttpOnly and SameSite.
		resp = c.login(adminEmail, adminPassword)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/status" {
			t.Fatalf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		var sess *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				sess = ck
			}
		}
		if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Secure {
			t.Fatalf("session cookie: %+v", sess)
		}
		resp, body := c.get("/admin/status")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Ada Admin") {
			t.Fatalf("status after login: %d", resp.StatusCode)
		}
		for h, want := range map[string]string{
			"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
			"Cache-Control":           "no-store",
		} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s = %q, want %q", h, got, want)
			}
		}

		// Logout needs the CSRF token too.
		resp, _ = c.post("/logout", url.Values{"_csrf": {"forged"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("logout with a forged token: %d", resp.StatusCode)
		}
		resp, _ = c.submit("/logout", nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		// The session is gone from the database: the old cookie is useless.
		old := e.anonymous(t)
		base, _ := url.Parse(e.ts.URL)
		old.http.Jar.SetCookies(base, []*http.Cookie{{Name: sessionCookie, Value: sess.Value, Path: "/"}})
		if resp, _ := old.get("/admin/status"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("old session after logout: %d", resp.StatusCode)
		}
		if _, err := e.store.SessionByToken(context.Background(), sess.Value); err == nil {
			t.Fatal("session still stored after logout")
		}
	})
}

func TestSecureCookieBehindTLS(t *testing.T) {
	t.Parallel()
	for publicURL, wantSecure := range map[string]bool{
		"https://help.example.com": true,
		"http://help.example.com":  false,
	} {
		e := setup(t, "sqlite", func(c *Config) { c.PublicURL = publicURL })
		resp := e.anonymous(t).login(agentEmail, agentPassword)
		var session *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				session = ck
			}
		}
		if session == nil || session.Secure != wantSecure {
			t.Fatalf("PublicURL %s: session cookie %+v, want Secure %v", publicURL, session, wantSecure)
		}
	}
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite", func(c *Config) { c.LoginLimit = 3; c.LoginAddressLimit = 3; c.LoginWindow = time.Hour })
	c := e.anonymous(t)
	for i := range 3 {
		if resp := c.login(agentEmail, "wrong-password"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	// At the limit even the right password is refused, with Retry-After.
	resp := c.login(agentEmail, agentPassword)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 3 failures: %d retry-after %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// The limit is per client address too: another account from the same
	// address is refused.
	if resp := c.login(adminEmail, adminPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("other account from the same address: %d", resp.StatusCode)
	}
}

func TestAPIToken(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		ctx := context.Background()
		if !strings.HasPrefix(e.adminToken, helpdesk.APITokenPrefix) {
			t.Fatalf("token %q", e.adminToken)
		}
		u, err := e.store.UserByAPIToken(ctx, e.adminToken)
		if err != nil || u.ID != e.admin.ID {
			t.Fatalf("UserByAPIToken: %v %v", u, err)
		}
		for _, tc := range []struct {
			header string
			want   int
		}{
			{"Bearer " + e.adminToken, http.StatusOK},
			{"bearer " + e.adminToken, http.StatusOK},
			{"Bearer " + e.agentToken, http.StatusForbidden},
			{"Bearer hd_unknown", http.StatusUnauthorized},
			{"Bearer " + strings.Repeat("x", 5000), http.StatusUnauthorized},
			{"Basic YWRtaW46cGFzcw==", http.StatusUnauthorized},
			{"", http.StatusUnauthorized},
		} {
			req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/api/v1/mailboxes", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, body := e.anonymous(t).do(req)
			if resp.StatusCode != tc.want {
				t.Errorf("Authorization %.30q: %d, want %d: %s", tc.header, resp.StatusCode, tc.want, body)
			}
		}
		// The token is stored hashed: its text appears nowhere in the table.
		if _, _, err := e.store.CreateAPIToken(ctx, 999999, helpdesk.APITokenInput{Name: "x"}); err == nil {
			t.Fatal("token for an unknown user")
		}
	})
}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := secret.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$") {
		t.Fatalf("hash %q", h)
	}
	if !secret.CheckPassword(h, "correct horse battery") || secret.CheckPassword(h, "correct horse batterz") {
		t.Fatal("CheckPassword")
	}
	for _, bad := range []string{"", "x", "$argon2id$v=19$m=1,t=1,p=1$$", "$2a$10$abcdefghijklmnopqrstuv"} {
		if secret.CheckPassword(bad, "") {
			t.Fatalf("CheckPassword(%q) accepted", bad)
		}
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                     "/",
		"/admin/status":        "/admin/status",
		"//evil.example":       "/",
		"https://evil.example": "/",
		"/\\evil.example":      "/",
		"/login":               "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
