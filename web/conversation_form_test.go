package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var versionInput = regexp.MustCompile(`name="version" value="(\d+)"`)

// TestConversationFormRefusals: every refusal of the conversation page
// is the page again, with a status saying why, the refusal beside its
// field and the typed text kept; a success with text still typed keeps it.
func TestConversationFormRefusals(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		agent, admin := w.session(t, w.agent), w.session(t, w.admin)
		path := "/conversations/" + itoa(w.c1)
		version := func(c *client) string {
			t.Helper()
			_, body := c.get(path)
			m := versionInput.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no version on the page")
			}
			return m[1]
		}
		seen := version(agent)
		if resp, body := admin.submit(path+"/update", url.Values{"status": {"closed"}, "assignee": {""}, "version": {seen}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("admin's save: %d %s", resp.StatusCode, body)
		}
		for _, tc := range []struct {
			name   string
			action string
			form   url.Values
			status int
			shows  []string
		}{
			{"stale save", "/update", url.Values{"status": {"active"}, "assignee": {""}, "version": {seen}, "body": {"my <typed> text"}},
				409, []string{`id="conflict"`, "Ada Admin set the status to closed.", "my &lt;typed&gt; text</textarea>"}},
			{"stale merge", "/merge", url.Values{"into": {itoa(w.c2)}, "version": {seen}},
				409, []string{`id="conflict"`, "Ada Admin set the status to closed.", `value="` + itoa(w.c2) + `"`}},
			{"tag with a comma", "/tags", url.Values{"tag": {"a,b"}, "note": {"keep me"}},
				422, []string{`id="tag-error"`, `value="a,b"`, ">keep me</textarea>"}},
			{"reply of spaces", "/replies", url.Values{"body": {"   "}, "note": {"keep me"}, "then": {"pending"}},
				422, []string{`id="reply-error"`, ">keep me</textarea>"}},
			{"note of spaces", "/notes", url.Values{"note": {"  "}, "body": {"my reply"}},
				422, []string{`id="note-error"`, ">my reply</textarea>"}},
			{"bad status after sending", "/replies", url.Values{"body": {"my reply"}, "then": {"later"}},
				422, []string{"must be one of", ">my reply</textarea>"}},
			{"bad version", "/update", url.Values{"status": {"closed"}, "version": {"abc"}, "body": {"my reply"}},
				422, []string{"reload the page", ">my reply</textarea>"}},
			{"retry of a reply that did not fail", "/replies/1/retry", url.Values{"body": {"my reply"}},
				422, []string{`data-error="retry"`, ">my reply</textarea>"}},
			{"save with a reply typed", "/update", url.Values{"status": {"pending"}, "body": {"still typing"}},
				200, []string{"Changes saved.", ">still typing</textarea>"}},
		} {
			if tc.form.Get("version") == "" {
				tc.form.Set("version", version(agent))
			}
			resp, body := agent.submit(path+tc.action, tc.form)
			if resp.StatusCode != tc.status {
				t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.status)
			}
			for _, s := range tc.shows {
				if !strings.Contains(body, s) {
					t.Errorf("%s: the page lacks %q", tc.name, s)
				}
			}
			if strings.Contains(body, "Back to the start page") {
				t.Errorf("%s: a dead end", tc.name)
			}
		}
		if resp, _ := agent.get(path); resp.StatusCode != 200 {
			t.Fatal(resp.StatusCode)
		}
		d := w.snapshot(t, w.c1)
		if !strings.Contains(d, `"status":"pending"`) || strings.Contains(d, `"kind":"reply"`) || strings.Contains(d, `"kind":"note"`) {
			t.Errorf("after the refusals: %s", d)
		}
	})
}
