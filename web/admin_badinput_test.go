package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

const script = `<script>alert("x")</script>`

// badMailboxValues: for each form field, values of the wrong type, too
// large, or carrying markup. Each must be refused naming the field.
var badMailboxValues = map[string][]string{
	"name":              {"", strings.Repeat("n", 100_000), script, "a\x00b", "two\nlines", "\xff\xfe"},
	"email":             {"not-an-address", strings.Repeat("e", 300) + "@example.com", script + "@example.com", "a@example.com\r\nBcc: x@example.com", ""},
	"imap_host":         {"", "bad host", strings.Repeat("h", 100_000), script, "host/path"},
	"imap_port":         {"abc", "99999999999999999999999", "-1", "0", "65536", "1.5", script, "0x3e1", ""},
	"imap_security":     {"ssl", strings.Repeat("t", 100_000), script, ""},
	"imap_user":         {"", strings.Repeat("u", 100_000), script, "a\r\nb"},
	"imap_password":     {strings.Repeat("p", 5000), "a\r\nb", "\xff"},
	"folders":           {strings.Repeat("f", 30_000), script, "INBOX*", "INBOX\n%"},
	"after_fetch":       {"delete", script, strings.Repeat("a", 100_000)},
	"poll_interval_s":   {"abc", "1", "99999999999999999999", script, "-60", "60s"},
	"max_message_bytes": {"abc", "1", "1e9", "99999999999999999999", script},
	"import_since":      {"yesterday", "2024-13-45", script, strings.Repeat("2", 100_000), "31/01/2024"},
	"smtp_url":          {"http://mail.example.com", strings.Repeat("s", 5000), script, "smtp://a\r\nb"},
	"enabled":           {"maybe", script, "2"},
	"auto_ack":          {"maybe", script},
}

func TestMailboxFormBadInput(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		ctx := context.Background()
		admin := e.session(t, e.admin)
		id := e.mailbox(t, 1)
		before, err := e.store.Mailbox(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for field, values := range badMailboxValues {
			for _, v := range values {
				name := fmt.Sprintf("%s=%.20q", field, v)
				f := validMailboxForm()
				f.Set(field, v)
				for _, target := range []string{"/admin/mailboxes", fmt.Sprintf("/admin/mailboxes/%d", id)} {
					resp, body := admin.submit(target, f)
					if resp.StatusCode != http.StatusUnprocessableEntity {
						t.Errorf("%s to %s: %d, want 422", name, target, resp.StatusCode)
						continue
					}
					if !strings.Contains(body, fmt.Sprintf(`data-field-error="%s"`, field)) {
						t.Errorf("%s to %s: the error does not name the field", name, target)
					}
					if strings.Contains(body, "<script>alert") {
						t.Errorf("%s to %s: markup echoed unescaped", name, target)
					}
				}
			}
		}
		// Changed nothing.
		mbs, err := e.store.Mailboxes(ctx)
		if err != nil || len(mbs) != 1 {
			t.Fatalf("mailboxes after bad input: %d %v", len(mbs), err)
		}
		after, _ := e.store.Mailbox(ctx, id)
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("mailbox changed:\n%+v\n%+v", before, after)
		}

		// A body over the limit is refused before it is read.
		f := validMailboxForm()
		f.Set("name", strings.Repeat("n", 2<<20))
		if resp, _ := admin.submit("/admin/mailboxes", f); resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("2 MiB form: %d", resp.StatusCode)
		}
	})
}

// badIDs are path parameters that are not mailbox IDs.
var badIDs = []string{"abc", "0", "-1", "99999999999999999999999", "1.5", "%3Cscript%3E", "0x10", "+1", "01", "1e3", "%20"}

func TestBadIDs(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		ctx := context.Background()
		e.mailbox(t, 1)
		admin := e.session(t, e.admin)
		for _, id := range badIDs {
			for _, p := range []struct{ method, path string }{
				{http.MethodGet, "/api/v1/mailboxes/%s/status"},
				{http.MethodPost, "/api/v1/mailboxes/%s/fetch"},
			} {
				resp, body := e.api(t, e.adminToken, p.method, fmt.Sprintf(p.path, id))
				var out struct {
					Error  string            `json:"error"`
					Fields map[string]string `json:"fields"`
				}
				if err := json.Unmarshal([]byte(body), &out); err != nil || resp.StatusCode != http.StatusBadRequest || out.Fields["id"] == "" {
					t.Errorf("%s %s: %d %s", p.method, fmt.Sprintf(p.path, id), resp.StatusCode, body)
				}
			}
			for _, p := range []struct{ method, path string }{
				{http.MethodGet, "/admin/mailboxes/%s"},
				{http.MethodGet, "/admin/mailboxes/%s/edit"},
				{http.MethodPost, "/admin/mailboxes/%s"},
				{http.MethodPost, "/admin/mailboxes/%s/enabled"},
				{http.MethodPost, "/admin/mailboxes/%s/fetch"},
				{http.MethodPost, "/admin/mailboxes/%s/test"},
				{http.MethodPost, "/admin/quarantine/%s/retry"},
				{http.MethodPost, "/admin/users/%s/mailboxes"},
			} {
				path := fmt.Sprintf(p.path, id)
				var resp *http.Response
				var body string
				if p.method == http.MethodGet {
					resp, body = admin.get(path)
				} else {
					resp, body = admin.submit(path, url.Values{"enabled": {"false"}})
				}
				if id == "%20" && resp.StatusCode == http.StatusNotFound && p.path == "/admin/mailboxes/%s" && p.method == http.MethodGet {
					continue
				}
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `data-field-error="id"`) {
					t.Errorf("%s %s: %d", p.method, path, resp.StatusCode)
				}
			}
		}
		if _, ids, _ := e.store.FetchChanges(ctx); len(ids) != 0 {
			t.Errorf("fetch requested: %v", ids)
		}
		// Unknown notices are not shown; markup in them never reaches the page.
		_, body := admin.get("/admin/status?notice=" + url.QueryEscape(script))
		if strings.Contains(body, "alert(") {
			t.Error("notice text from the URL reached the page")
		}
	})
}

func TestOtherFormsBadInput(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		ctx := context.Background()
		mbox := e.mailbox(t, 1)
		admin := e.session(t, e.admin)
		valid := func() url.Values {
			return url.Values{"email": {"nu@example.com"}, "name": {"Nu"}, "role": {"agent"}, "password": {"long-enough-password"}}
		}
		for field, values := range map[string][]string{
			"email":    {"", "nope", script, strings.Repeat("e", 100_000)},
			"name":     {"", script, strings.Repeat("n", 100_000), "a\nb"},
			"role":     {"root", "", script, strings.Repeat("r", 100_000)},
			"password": {"short", strings.Repeat("p", 5000), ""},
		} {
			for _, v := range values {
				f := valid()
				f.Set(field, v)
				resp, body := admin.submit("/admin/users", f)
				if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, fmt.Sprintf(`data-field-error="%s"`, field)) {
					t.Errorf("user %s=%.20q: %d", field, v, resp.StatusCode)
				}
				if strings.Contains(body, "<script>alert") || strings.Contains(body, "long-enough-password") {
					t.Errorf("user %s=%.20q: echoed markup or the password", field, v)
				}
			}
		}
		if us, _ := e.store.Users(ctx); len(us) != 2 {
			t.Fatalf("%d users after bad input", len(us))
		}

		for _, v := range [][]string{{"abc"}, {"0"}, {"-5"}, {script}, {"99999999999999999999"}, {"424242"}, {fmt.Sprint(mbox), "x"}} {
			resp, body := admin.submit(fmt.Sprintf("/admin/users/%d/mailboxes", e.agent.ID), url.Values{"mailbox": v})
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="mailboxes"`) && !strings.Contains(body, `data-field-error="mailbox"`) {
				t.Errorf("mailbox access %q: %d", v, resp.StatusCode)
			}
		}
		if ids, _ := e.store.UserMailboxIDs(ctx, e.agent.ID); len(ids) != 0 {
			t.Fatalf("access changed: %v", ids)
		}

		for _, v := range []string{"maybe", script, "", strings.Repeat("t", 100_000)} {
			resp, body := admin.submit(fmt.Sprintf("/admin/mailboxes/%d/enabled", mbox), url.Values{"enabled": {v}})
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="enabled"`) {
				t.Errorf("enabled=%.20q: %d", v, resp.StatusCode)
			}
		}
		if m, _ := e.store.Mailbox(ctx, mbox); !m.Enabled {
			t.Fatal("mailbox disabled by bad input")
		}

		// Login.
		c := e.anonymous(t)
		for field, v := range map[string]string{"email": strings.Repeat("e", 100_000), "password": strings.Repeat("p", 5000)} {
			_, form := c.get("/login")
			token := csrfInput.FindStringSubmatch(form)[1]
			f := url.Values{"_csrf": {token}, "email": {adminEmail}, "password": {adminPassword}}
			f.Set(field, v)
			resp, body := c.post("/login", f)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, fmt.Sprintf(`data-field-error="%s"`, field)) {
				t.Errorf("login %s huge: %d", field, resp.StatusCode)
			}
		}
		_, form := c.get("/login")
		token := csrfInput.FindStringSubmatch(form)[1]
		resp, body := c.post("/login", url.Values{"_csrf": {token}, "email": {script}, "password": {"x"}, "next": {"javascript:alert(1)"}})
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "<script>alert") || strings.Contains(body, "javascript:") {
			t.Errorf("login with markup: %d", resp.StatusCode)
		}
	})
}
