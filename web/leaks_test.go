package web

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// logBuffer collects a server's log lines; requests write to it from
// their own goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func logTo(b *logBuffer) envOption {
	return func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

// NUL bytes and invalid UTF-8 in a query parameter, a form field, a path
// or a JSON string are refused with 400 or 422 naming the field, on both
// databases: PostgreSQL answered 500, and on SQLite q=%00 matched every
// conversation.
func TestBadTextIsRefused(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		agent := w.session(t, w.agent)
		conv := "/api/v1/conversations/" + itoa(w.c1)
		before := w.snapshot(t, w.c1)
		for _, tc := range []struct {
			name, method, path, body string
			want                     int
			field                    string
		}{
			{"q NUL", "GET", "/api/v1/conversations?q=%00", "", 400, "q"},
			{"q invalid UTF-8", "GET", "/api/v1/conversations?q=%FF%FE", "", 400, "q"},
			{"tag NUL", "GET", "/api/v1/conversations?tag=%00", "", 400, "tag"},
			{"tag in path NUL", "POST", conv + "/tags/a%00b", "", 400, "path"},
			{"assignee NUL", "PATCH", conv, `{"assignee": "a\u0000b@x"}`, 422, "assignee"},
			{"status NUL", "PATCH", conv, `{"status": "closed\u0000"}`, 422, "status"},
			{"reply NUL", "POST", conv + "/replies", `{"body": "hello\u0000"}`, 422, "body"},
			{"note invalid UTF-8", "POST", conv + "/notes", "{\"body\": \"\xff\xfe\"}", 422, "body"},
		} {
			code, out, _ := w.call(t, w.agentToken, tc.method, tc.path, tc.body)
			fields, _ := out["fields"].(map[string]any)
			if code != tc.want || fields[tc.field] == nil {
				t.Errorf("%s: %d %v, want %d naming %s", tc.name, code, out, tc.want, tc.field)
			}
		}
		for _, q := range []string{"q=%00", "q=%FF%FE", "tag=%00"} {
			if resp, body := agent.get("/?" + q); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "data-field-error") {
				t.Errorf("conversation list page ?%s: %d", q, resp.StatusCode)
			}
		}
		if resp, _ := agent.submit("/conversations/"+itoa(w.c1)+"/notes", url.Values{"body": {"a\x00b"}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("note form with NUL: %d, want 422", resp.StatusCode)
		}
		if got := w.snapshot(t, w.c1); got != before {
			t.Errorf("refused requests changed the conversation:\n%s\n%s", before, got)
		}

		// An anonymous sign-in with a NUL in the address.
		c := w.anonymous(t)
		_, page := c.get("/login")
		m := csrfInput.FindStringSubmatch(page)
		if m == nil {
			t.Fatal("no CSRF field on the login form")
		}
		resp, body := c.post("/login", url.Values{"_csrf": {m[1]}, "email": {"a\x00@x.test"}, "password": {"whatever-1"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="email"`) {
			t.Errorf("login with NUL: %d\n%s", resp.StatusCode, body)
		}
	})
}

// The small leaks: tags of other mailboxes, the assignee lookup before the
// access check, the CSRF token from the query string, the typed address
// in the log of a failed sign-in.
func TestSmallLeaks(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		var log logBuffer
		w := &workspace{env: setup(t, dialect, logTo(&log))}
		ctx := context.Background()
		w.mb1, w.mb2 = w.mailbox(t, 1), w.mailbox(t, 2)
		if err := w.store.SetUserMailboxes(ctx, w.agent.ID, []int64{w.mb1}); err != nil {
			t.Fatal(err)
		}
		w.c1 = w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "a@customer.example"}, Subject: "One", Text: "1"}).ConversationID
		w.c3 = w.ingest(t, w.mb2, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "c@customer.example"}, Subject: "Three", Text: "3"}).ConversationID
		if err := w.store.AddTag(ctx, helpdesk.Viewer{Admin: true}, w.c1, "visible-tag", 0); err != nil {
			t.Fatal(err)
		}
		if err := w.store.AddTag(ctx, helpdesk.Viewer{Admin: true}, w.c3, "acquisition-of-acme", 0); err != nil {
			t.Fatal(err)
		}

		// Tags: an agent's filter offers those of their mailboxes only.
		_, page := w.session(t, w.agent).get("/")
		if !strings.Contains(page, "visible-tag") || strings.Contains(page, "acquisition-of-acme") {
			t.Errorf("agent's tag filter: visible-tag shown %v, other mailbox's tag shown %v",
				strings.Contains(page, "visible-tag"), strings.Contains(page, "acquisition-of-acme"))
		}
		if _, page := w.session(t, w.admin).get("/"); !strings.Contains(page, "acquisition-of-acme") {
			t.Error("admin's tag filter lacks a tag")
		}

		// Assignee by address on a conversation the agent cannot see: 404
		// whether or not the address is a user's; on one the agent can
		// see, a non-user and a user without access get the same answer.
		other := "/api/v1/conversations/" + itoa(w.c3)
		own := "/api/v1/conversations/" + itoa(w.c1)
		stranger, err := w.store.CreateUser(ctx, helpdesk.UserInput{Email: "stranger@example.com", Name: "S", Role: "agent", Password: "stranger-password"})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.store.SetUserMailboxes(ctx, stranger.ID, []int64{w.mb2}); err != nil {
			t.Fatal(err)
		}
		answers := map[string]string{}
		for _, tc := range []struct{ name, path, address string }{
			{"hidden, user", other, adminEmail},
			{"hidden, no user", other, "nobody@example.com"},
			{"own, user without access", own, "stranger@example.com"},
			{"own, no user", own, "nobody@example.com"},
		} {
			code, out, _ := w.call(t, w.agentToken, "PATCH", tc.path, fmt.Sprintf(`{"assignee": %q}`, tc.address))
			answers[tc.name] = fmt.Sprint(code, out)
		}
		for _, pair := range [][2]string{{"hidden, user", "hidden, no user"}, {"own, user without access", "own, no user"}} {
			if answers[pair[0]] != answers[pair[1]] {
				t.Errorf("%s: %s; %s: %s; want the same answer", pair[0], answers[pair[0]], pair[1], answers[pair[1]])
			}
		}
		if !strings.HasPrefix(answers["hidden, user"], "404") || !strings.HasPrefix(answers["own, no user"], "422") {
			t.Errorf("answers %v: want 404 for the hidden conversation, 422 on the agent's own", answers)
		}

		// CSRF: the token counts in the form body only, not in the URL.
		admin := w.session(t, w.admin)
		fetch := fmt.Sprintf("/admin/mailboxes/%d/fetch", w.mb1)
		if resp, _ := admin.post(fetch+"?_csrf="+url.QueryEscape(admin.csrf), url.Values{}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("CSRF token in the query string: %d, want 403", resp.StatusCode)
		}
		if _, ids, _ := w.store.FetchChanges(ctx); len(ids) != 0 {
			t.Errorf("fetch requested with the token in the query string: %v", ids)
		}
		if resp, _ := admin.submit(fetch, nil); resp.StatusCode != http.StatusAccepted {
			t.Errorf("CSRF token in the form: %d, want 202", resp.StatusCode)
		}
		c := w.anonymous(t)
		_, loginPage := c.get("/login")
		m := csrfInput.FindStringSubmatch(loginPage)
		if m == nil {
			t.Fatal("no CSRF field on the login form")
		}
		resp, _ := c.post("/login?_csrf="+url.QueryEscape(m[1]), url.Values{"email": {adminEmail}, "password": {adminPassword}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("login with the CSRF token in the query string: %d, want 403", resp.StatusCode)
		}

		// A failed sign-in does not log what was typed as the address
		// (people type passwords there).
		if resp := w.anonymous(t).login("Typed-Password-In-Address", "wrong-password-1"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failed login: %d", resp.StatusCode)
		}
		if !strings.Contains(log.String(), "login failed") {
			t.Fatal("no log line for the failed login")
		}
		if strings.Contains(strings.ToLower(log.String()), "typed-password-in-address") {
			t.Errorf("the log holds the typed address:\n%s", log.String())
		}
	})
}

// HEAD works on /healthz and /readyz; /metrics wants the token when one
// is set.
func TestOpsEndpoints(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite", func(c *Config) { c.MetricsToken = "metrics-token-1" })
	c := e.anonymous(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		req, _ := http.NewRequest(http.MethodHead, e.ts.URL+path, nil)
		if resp, _ := c.do(req); resp.StatusCode != http.StatusOK {
			t.Errorf("HEAD %s: %d", path, resp.StatusCode)
		}
	}
	for _, auth := range []string{"", "Bearer wrong", "Basic metrics-token-1", "Bearer metrics-token-1x"} {
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, body := c.do(req)
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "helpdesk_web_requests_total") {
			t.Errorf("metrics with %q: %d", auth, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer metrics-token-1")
	if resp, body := c.do(req); resp.StatusCode != http.StatusOK || !strings.Contains(body, "helpdesk_web_requests_total") {
		t.Errorf("metrics with the token: %d", resp.StatusCode)
	}
}
