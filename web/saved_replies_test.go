package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// createSavedReply adds one through the admin page and returns its id.
func createSavedReply(t *testing.T, w *workspace, admin *client, name, body string, mailboxID int64) int64 {
	t.Helper()
	mb := ""
	if mailboxID != 0 {
		mb = itoa(mailboxID)
	}
	resp, page := admin.submit("/admin/saved-replies", url.Values{"name": {name}, "body": {body}, "mailbox": {mb}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/saved-replies?notice=saved-reply-new" {
		t.Fatalf("create saved reply %q: %d %s\n%s", name, resp.StatusCode, resp.Header.Get("Location"), page)
	}
	rs, err := w.store.SavedReplies(context.Background(), helpdesk.Viewer{Admin: true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Name == name {
			return r.ID
		}
	}
	t.Fatalf("saved reply %q not stored", name)
	return 0
}

// TestSavedRepliesAdmin: admins create, edit and delete saved replies on
// their page, bad input is shown beside its field with the typed text
// kept; agents may not open the page, and insert the saved replies of the
// conversation's mailbox (and the global ones) into their reply.
func TestSavedRepliesAdmin(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		ctx := context.Background()
		admin, agent := w.session(t, w.admin), w.session(t, w.agent)

		// Bad input: every field's error in place, nothing stored, the text kept.
		resp, body := admin.submit("/admin/saved-replies", url.Values{"name": {"  "}, "body": {"Typed text that must stay"}, "mailbox": {"42424242"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="name"`) ||
			!strings.Contains(body, "Typed text that must stay") {
			t.Fatalf("empty name: %d\n%s", resp.StatusCode, body)
		}
		resp, body = admin.submit("/admin/saved-replies", url.Values{"name": {"Lost mailbox"}, "body": {"Hello"}, "mailbox": {"42424242"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="mailbox_id"`) ||
			!strings.Contains(body, `value="Lost mailbox"`) {
			t.Fatalf("unknown mailbox: %d\n%s", resp.StatusCode, body)
		}
		resp, body = admin.submit("/admin/saved-replies", url.Values{"name": {"Too long"}, "body": {strings.Repeat("x", helpdesk.MaxBodyLength+1)}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="body"`) {
			t.Fatalf("long body: %d", resp.StatusCode)
		}
		if rs, _ := w.store.SavedReplies(ctx, helpdesk.Viewer{Admin: true}, 0); len(rs) != 0 {
			t.Fatalf("bad input stored %d saved replies", len(rs))
		}

		greeting := createSavedReply(t, w, admin, "Greeting", "Hello,\n\nthank you for writing to us.", 0)
		printer := createSavedReply(t, w, admin, "Printer fire", "Unplug the printer first.", w.mb1)
		secret := createSavedReply(t, w, admin, "Mailbox 2 only", "Not for mailbox 1.", w.mb2)
		if _, body := admin.get("/admin/saved-replies?notice=saved-reply-new"); !strings.Contains(body, "Saved reply created") ||
			!strings.Contains(body, `data-saved-reply="`+itoa(printer)+`"`) || !strings.Contains(body, "Every mailbox") {
			t.Errorf("list page:\n%s", body)
		}

		// Edit: a bad change is refused in place, a good one saved.
		_, body = admin.get("/admin/saved-replies/" + itoa(greeting))
		if !strings.Contains(body, "thank you for writing to us.") || !strings.Contains(body, `value="Greeting"`) {
			t.Fatalf("edit page:\n%s", body)
		}
		resp, body = admin.submit("/admin/saved-replies/"+itoa(greeting), url.Values{"name": {strings.Repeat("n", 201)}, "body": {"Kept edit"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="name"`) || !strings.Contains(body, "Kept edit") {
			t.Fatalf("long name: %d\n%s", resp.StatusCode, body)
		}
		resp, _ = admin.submit("/admin/saved-replies/"+itoa(greeting), url.Values{"name": {"Greeting"}, "body": {"Hello,\n\nthanks for writing."}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("update: %d", resp.StatusCode)
		}
		if r, _ := w.store.SavedReply(ctx, helpdesk.ViewerOf(w.agent), greeting); r == nil || r.Body != "Hello,\n\nthanks for writing." {
			t.Fatalf("updated: %+v", r)
		}

		// Agents: not the admin page; on the conversation, the saved
		// replies of its mailbox and the global ones.
		for _, p := range []string{"/admin/saved-replies", "/admin/saved-replies/" + itoa(greeting)} {
			if resp, _ := agent.get(p); resp.StatusCode != http.StatusForbidden {
				t.Errorf("agent GET %s: %d", p, resp.StatusCode)
			}
		}
		if resp, _ := agent.submit("/admin/saved-replies/"+itoa(greeting)+"/delete", nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("agent delete: %d", resp.StatusCode)
		}
		conv := "/conversations/" + itoa(w.c1)
		_, page := agent.get(conv)
		if !strings.Contains(page, `<option value="`+itoa(greeting)+`"`) || !strings.Contains(page, `<option value="`+itoa(printer)+`"`) ||
			strings.Contains(page, `<option value="`+itoa(secret)+`"`) {
			t.Errorf("saved replies offered on the conversation:\n%s", between(t, page, `id="saved-reply-picker"`, "</select>"))
		}

		// Without script, Insert adds it after what is typed, keeps the
		// rest of the form and the draft.
		resp, page = agent.submit(conv+"/saved-reply", url.Values{"saved_reply": {itoa(printer)}, "body": {"Dear Alice,"}, "note": {"note typed"}})
		want := "Dear Alice,\n\nUnplug the printer first."
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, ">"+want+"</textarea>") || !strings.Contains(page, "note typed") {
			t.Fatalf("insert: %d\n%s", resp.StatusCode, between(t, page, `data-reply`, "</textarea>"))
		}
		if d, _ := w.store.Draft(ctx, helpdesk.ViewerOf(w.agent), w.c1); d != want {
			t.Errorf("draft after insert %q", d)
		}
		resp, page = agent.submit(conv+"/saved-reply", url.Values{"saved_reply": {itoa(secret)}, "body": {"Kept"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `data-error="saved_reply"`) || !strings.Contains(page, ">Kept</textarea>") {
			t.Errorf("insert another mailbox's: %d", resp.StatusCode)
		}

		resp, _ = admin.submit("/admin/saved-replies/"+itoa(printer)+"/delete", nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("delete: %d", resp.StatusCode)
		}
		if _, body := admin.get("/admin/saved-replies"); strings.Contains(body, `data-saved-reply="`+itoa(printer)+`"`) {
			t.Error("deleted saved reply still listed")
		}
		if resp, _ := admin.submit("/admin/saved-replies/"+itoa(printer)+"/delete", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("delete again: %d", resp.StatusCode)
		}
	})
}

// TestSavedRepliesAPI: every user lists the saved replies they may use;
// only admins write them (403 for agents), and bad input is 422 naming
// the fields.
func TestSavedRepliesAPI(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		list := func(token, query string) []string {
			t.Helper()
			resp, body := w.api(t, token, http.MethodGet, "/api/v1/saved-replies"+query)
			var rs []helpdesk.SavedReply
			if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &rs) != nil {
				t.Fatalf("list%s: %d %s", query, resp.StatusCode, body)
			}
			var names []string
			for _, r := range rs {
				names = append(names, r.Name)
			}
			return names
		}
		status, out, _ := w.call(t, w.adminToken, http.MethodPost, "/api/v1/saved-replies", `{"name": "Welcome", "body": "Hello!"}`)
		if status != http.StatusCreated || out["name"] != "Welcome" || out["mailbox_id"] != nil || out["id"] == nil {
			t.Fatalf("create global: %d %v", status, out)
		}
		welcome := int64(out["id"].(float64))
		status, out, _ = w.call(t, w.adminToken, http.MethodPost, "/api/v1/saved-replies",
			fmt.Sprintf(`{"name": "Billing", "body": "About your invoice", "mailbox_id": %d}`, w.mb2))
		if status != http.StatusCreated || out["mailbox_name"] != "Support 2" {
			t.Fatalf("create for mailbox 2: %d %v", status, out)
		}
		billing := int64(out["id"].(float64))
		w.call(t, w.adminToken, http.MethodPost, "/api/v1/saved-replies", fmt.Sprintf(`{"name": "Apology", "body": "Sorry!", "mailbox_id": %d}`, w.mb1))

		if got := strings.Join(list(w.agentToken, ""), ","); got != "Apology,Welcome" {
			t.Errorf("agent sees %s, want Apology,Welcome (not mailbox 2's)", got)
		}
		if got := strings.Join(list(w.adminToken, ""), ","); got != "Apology,Billing,Welcome" {
			t.Errorf("admin sees %s", got)
		}
		if got := strings.Join(list(w.adminToken, "?mailbox="+itoa(w.mb2)), ","); got != "Billing,Welcome" {
			t.Errorf("admin, mailbox 2: %s", got)
		}
		if status, _, _ := w.call(t, w.agentToken, http.MethodGet, "/api/v1/saved-replies/"+itoa(billing), ""); status != http.StatusNotFound {
			t.Errorf("agent reads mailbox 2's saved reply: %d", status)
		}
		if resp, _ := w.api(t, w.agentToken, http.MethodGet, "/api/v1/saved-replies?mailbox=x"); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("mailbox=x: %d", resp.StatusCode)
		}

		// Agents do not write.
		for _, c := range []struct{ method, path string }{
			{http.MethodPost, "/api/v1/saved-replies"},
			{http.MethodPut, "/api/v1/saved-replies/" + itoa(welcome)},
			{http.MethodDelete, "/api/v1/saved-replies/" + itoa(welcome)},
		} {
			if status, _, _ := w.call(t, w.agentToken, c.method, c.path, `{"name": "Mine", "body": "x"}`); status != http.StatusForbidden {
				t.Errorf("agent %s %s: %d", c.method, c.path, status)
			}
		}

		// Bad input: 422 with every field named.
		status, out, _ = w.call(t, w.adminToken, http.MethodPost, "/api/v1/saved-replies", `{"name": "", "body": " ", "mailbox_id": 0}`)
		fields, _ := out["fields"].(map[string]any)
		if status != http.StatusUnprocessableEntity || fields["name"] == nil || fields["body"] == nil || fields["mailbox_id"] == nil {
			t.Errorf("bad create: %d %v", status, out)
		}
		status, out, _ = w.call(t, w.adminToken, http.MethodPut, "/api/v1/saved-replies/"+itoa(welcome), `{"name": "Welcome", "body": "Hi", "mailbox_id": 987654}`)
		if fields, _ := out["fields"].(map[string]any); status != http.StatusUnprocessableEntity || fields["mailbox_id"] == nil {
			t.Errorf("unknown mailbox: %d %v", status, out)
		}
		if status, out, _ := w.call(t, w.adminToken, http.MethodPost, "/api/v1/saved-replies", `{"name": "A\u0000", "body": "x"}`); status != http.StatusUnprocessableEntity {
			t.Errorf("NUL in name: %d %v", status, out)
		}
		if status, _, _ := w.call(t, w.adminToken, http.MethodPost, "/api/v1/saved-replies", `{"title": "x"}`); status < 400 || status >= 500 {
			t.Errorf("unknown field: %d", status)
		}

		status, out, _ = w.call(t, w.adminToken, http.MethodPut, "/api/v1/saved-replies/"+itoa(welcome),
			fmt.Sprintf(`{"name": "Welcome back", "body": "Hello again", "mailbox_id": %d}`, w.mb1))
		if status != http.StatusOK || out["name"] != "Welcome back" || out["body"] != "Hello again" || out["mailbox_name"] != "Support 1" {
			t.Errorf("update: %d %v", status, out)
		}
		if status, _, _ := w.call(t, w.adminToken, http.MethodPut, "/api/v1/saved-replies/987654", `{"name": "x", "body": "y"}`); status != http.StatusNotFound {
			t.Errorf("update a missing one: %d", status)
		}
		if status, _, _ := w.call(t, w.adminToken, http.MethodDelete, "/api/v1/saved-replies/"+itoa(welcome), ""); status != http.StatusNoContent {
			t.Errorf("delete: %d", status)
		}
		if status, _, _ := w.call(t, w.adminToken, http.MethodDelete, "/api/v1/saved-replies/"+itoa(welcome), ""); status != http.StatusNotFound {
			t.Errorf("delete again: %d", status)
		}
		if got := strings.Join(list(w.agentToken, ""), ","); got != "Apology" {
			t.Errorf("after delete the agent sees %s", got)
		}
	})
}
