package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
)

func TestConversationPages(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		agent := w.session(t, w.agent)

		resp, body := agent.get("/")
		if resp.StatusCode != 200 || !strings.Contains(body, "Printer on fire") || !strings.Contains(body, "Invoice") || strings.Contains(body, "Secret") {
			t.Fatalf("list: %d\n%s", resp.StatusCode, body)
		}
		if resp, _ := agent.get("/?status=bogus"); resp.StatusCode != 400 {
			t.Errorf("bad status filter: %d", resp.StatusCode)
		}

		path := "/conversations/" + itoa(w.c1)
		resp, body = agent.get(path)
		if resp.StatusCode != 200 || !strings.Contains(body, "It <b>burns</b>.") {
			t.Fatalf("view: %d\n%s", resp.StatusCode, body)
		}
		if resp, body := agent.get(path + "?text=1"); resp.StatusCode != 200 || !strings.Contains(body, "It burns.") || strings.Contains(body, "<b>burns</b>") {
			t.Errorf("plain-text view: %d", resp.StatusCode)
		}
		if resp, _ := agent.get("/conversations/" + itoa(w.c3)); resp.StatusCode != 404 {
			t.Errorf("other mailbox's conversation: %d", resp.StatusCode)
		}

		// Forms need the session's CSRF token.
		if resp, _ := agent.post(path+"/replies", url.Values{"body": {"no token"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("reply without CSRF: %d", resp.StatusCode)
		}
		for _, step := range []struct {
			path string
			form url.Values
		}{
			{path + "/replies", url.Values{"body": {"Reply from the form"}}},
			{path + "/notes", url.Values{"note": {"Note from the form"}}},
			{path + "/update", url.Values{"status": {"pending"}, "assignee": {itoa(w.agent.ID)}}},
			{path + "/tags", url.Values{"tag": {"Hardware"}}},
			{path + "/tags", url.Values{"tag": {"fire"}}},
			{path + "/tags/delete", url.Values{"remove": {"fire"}}},
		} {
			resp, body := agent.submit(step.path, step.form)
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), path) {
				t.Fatalf("%s: %d %s", step.path, resp.StatusCode, body)
			}
		}
		d, err := w.store.Conversation(context.Background(), helpdesk.ViewerOf(w.agent), w.c1)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != "pending" || d.AssigneeID == nil || *d.AssigneeID != w.agent.ID || strings.Join(d.Tags, ",") != "hardware" || len(d.Threads) != 3 {
			t.Errorf("after the forms: %+v, %d threads", d.ConversationSummary, len(d.Threads))
		}
		if resp, _ := agent.submit(path+"/update", url.Values{"status": {"bogus"}}); resp.StatusCode != 422 {
			t.Errorf("bad status form: %d", resp.StatusCode)
		}
		if resp, _ := agent.submit("/conversations/"+itoa(w.c3)+"/replies", url.Values{"body": {"x"}}); resp.StatusCode != 404 {
			t.Errorf("reply in other mailbox: %d", resp.StatusCode)
		}
		resp, body = agent.get(path)
		if !strings.Contains(body, "Reply from the form") || !strings.Contains(body, "Note from the form") || !strings.Contains(body, "hardware") {
			t.Errorf("view after the forms lacks the new threads/tags")
		}
	})
}
