package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// alicesHistory gives Alice (customer of c1) a second conversation in
// mailbox 1 and one in mailbox 2, which the agent does not see.
func (w *workspace) alicesHistory(t *testing.T) (second, elsewhere int64) {
	t.Helper()
	alice := helpdesk.Address{Name: "Alice Liddell", Email: "alice@customer.example"}
	second = w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: alice, Subject: "Scanner too", Text: "It hums."}).ConversationID
	elsewhere = w.ingest(t, w.mb2, &helpdesk.IncomingMessage{From: alice, Subject: "Billing question", Text: "Mailbox 2."}).ConversationID
	return second, elsewhere
}

func (w *workspace) customerOf(t *testing.T, conv int64) int64 {
	t.Helper()
	d, err := w.store.Conversation(context.Background(), helpdesk.Viewer{Admin: true}, conv)
	if err != nil {
		t.Fatal(err)
	}
	return d.CustomerID
}

func TestAPICustomer(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		second, elsewhere := w.alicesHistory(t)
		path := "/api/v1/customers/" + itoa(w.customerOf(t, w.c1))

		status, out, _ := w.call(t, w.agentToken, http.MethodGet, path, "")
		if status != 200 || out["email"] != "alice@customer.example" || out["name"] != "Alice" {
			t.Fatalf("agent: %d %v", status, out)
		}
		if got := convIDs(t, out); fmt.Sprint(got) != fmt.Sprint([]int64{second, w.c1}) {
			t.Errorf("agent sees conversations %v, want %d and %d (not mailbox 2's %d)", got, second, w.c1, elsewhere)
		}
		if names := fmt.Sprint(out["names"]); names != "[Alice Alice Liddell]" {
			t.Errorf("names %s", names)
		}
		first := out["conversations"].([]any)[0].(map[string]any)
		for _, k := range []string{"id", "subject", "status", "mailbox_id", "mailbox_name", "tags", "last_message_at"} {
			if _, ok := first[k]; !ok {
				t.Errorf("a conversation lacks %q: %v", k, first)
			}
		}
		if status, out, _ := w.call(t, w.adminToken, http.MethodGet, path, ""); status != 200 || len(convIDs(t, out)) != 3 {
			t.Errorf("admin: %d %v", status, out)
		}
		// Carol wrote to mailbox 2 only: the agent does not learn of her.
		carol := "/api/v1/customers/" + itoa(w.customerOf(t, w.c3))
		if status, _, _ := w.call(t, w.agentToken, http.MethodGet, carol, ""); status != 404 {
			t.Errorf("customer of another mailbox: %d", status)
		}
		for p, want := range map[string]int{"/api/v1/customers/999999": 404, "/api/v1/customers/abc": 400} {
			if status, _, _ := w.call(t, w.adminToken, http.MethodGet, p, ""); status != want {
				t.Errorf("%s: %d, want %d", p, status, want)
			}
		}
	})
}

func TestAPIMerge(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		second, _ := w.alicesHistory(t)
		merge := func(token string, from int64, body string) (int, map[string]any) {
			status, out, _ := w.call(t, token, http.MethodPost, "/api/v1/conversations/"+itoa(from)+"/merge", body)
			return status, out
		}
		before := w.snapshot(t, second)
		for _, bad := range []struct {
			token string
			from  int64
			body  string
			want  int
		}{
			{w.agentToken, w.c1, `{"into": ` + itoa(w.c3) + `}`, 404}, // the agent does not see c3
			{w.agentToken, w.c3, `{"into": ` + itoa(w.c1) + `}`, 404}, // nor as the source
			{w.adminToken, w.c1, `{"into": ` + itoa(w.c3) + `}`, 422}, // another mailbox
			{w.adminToken, w.c1, `{"into": ` + itoa(w.c1) + `}`, 422}, // itself
			{w.adminToken, w.c1, `{}`, 422},                           // no target
			{w.adminToken, w.c1, `{"into": "two"}`, 422},              // not a number
			{w.adminToken, w.c1, `{"into": 2, "also": 1}`, 422},       // unknown field
			{w.adminToken, w.c1, `{"into": `, 400},                    // not JSON
			{w.adminToken, w.c1, `{"into": 999999}`, 404},             // no such conversation
		} {
			if status, out := merge(bad.token, bad.from, bad.body); status != bad.want {
				t.Errorf("merge %d with %s: %d %v, want %d", bad.from, bad.body, status, out, bad.want)
			}
		}
		if w.snapshot(t, second) != before {
			t.Fatal("a refused merge changed the target")
		}

		// A merge made on a version older than a change of the merged
		// conversation is refused, as other versioned changes are.
		_, out, _ := w.call(t, w.agentToken, http.MethodGet, "/api/v1/conversations/"+itoa(w.c1), "")
		seen := out["version"].(float64)
		if status, _, _ := w.call(t, w.adminToken, http.MethodPatch, "/api/v1/conversations/"+itoa(w.c1), `{"status": "pending"}`); status != 200 {
			t.Fatalf("admin's patch: %d", status)
		}
		status, out := merge(w.agentToken, w.c1, fmt.Sprintf(`{"into": %d, "version": %d}`, second, int64(seen)))
		refused(t, "stale merge", status, out, "status", "Ada Admin", seen+1)
		if w.snapshot(t, second) != before {
			t.Fatal("a stale merge changed the target")
		}

		status, out = merge(w.agentToken, w.c1, fmt.Sprintf(`{"into": %d, "version": %d}`, second, int64(seen)+1))
		if status != 200 || int64(out["id"].(float64)) != second || len(out["threads"].([]any)) != 2 {
			t.Fatalf("merge: %d %v", status, out)
		}
		// The merged one answers 301 with where it went.
		status, out, h := w.call(t, w.agentToken, http.MethodGet, "/api/v1/conversations/"+itoa(w.c1), "")
		if status != http.StatusMovedPermanently || h.Get("Location") != "/api/v1/conversations/"+itoa(second) || int64(out["merged_into"].(float64)) != second {
			t.Errorf("merged GET: %d %v %v", status, h.Get("Location"), out)
		}
		if status, _, _ := w.call(t, w.agentToken, http.MethodPatch, "/api/v1/conversations/"+itoa(w.c1), `{"status": "closed"}`); status != 404 {
			t.Errorf("changing a merged conversation: %d", status)
		}
		status, out, _ = w.call(t, w.agentToken, http.MethodGet, "/api/v1/conversations", "")
		if status != 200 || fmt.Sprint(convIDs(t, out)) != fmt.Sprint([]int64{second, w.c2}) {
			t.Errorf("list after the merge: %d %v", status, out)
		}
	})
}

func TestCustomerPageAndSidebar(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		second, _ := w.alicesHistory(t)
		agent := w.session(t, w.agent)
		customer := "/customers/" + itoa(w.customerOf(t, w.c1))

		resp, body := agent.get(customer)
		if resp.StatusCode != 200 || !strings.Contains(body, "alice@customer.example") || !strings.Contains(body, "Alice Liddell") ||
			!strings.Contains(body, `data-conversation="`+itoa(w.c1)+`"`) || !strings.Contains(body, `data-conversation="`+itoa(second)+`"`) {
			t.Fatalf("customer page: %d\n%s", resp.StatusCode, body)
		}
		if strings.Contains(body, "Billing question") {
			t.Error("the customer page shows a conversation of a mailbox the agent does not see")
		}
		if resp, _ := agent.get("/customers/" + itoa(w.customerOf(t, w.c3))); resp.StatusCode != 404 {
			t.Errorf("customer of another mailbox: %d", resp.StatusCode)
		}

		// The conversation's sidebar: her other conversation, not this
		// one, not mailbox 2's; a link to her page.
		page := "/conversations/" + itoa(w.c1)
		_, body = agent.get(page)
		side := body[strings.Index(body, `id="customer-side"`):strings.Index(body, `</aside>`)]
		if !strings.Contains(side, `data-other="`+itoa(second)+`"`) || strings.Contains(side, `data-other="`+itoa(w.c1)+`"`) || strings.Contains(side, "Billing question") {
			t.Errorf("sidebar:\n%s", side)
		}
		if !strings.Contains(body, `href="`+customer+`"`) {
			t.Error("no link to the customer page")
		}

		// Merging from the page: a typed reply waits; a bad number is
		// refused inline, keeping what was typed.
		resp, body = agent.submit(page+"/merge", url.Values{"into": {itoa(second)}, "body": {"half a reply"}})
		if resp.StatusCode != 422 || !strings.Contains(body, `data-error="into"`) || !strings.Contains(body, "half a reply") {
			t.Errorf("merge with a typed reply: %d", resp.StatusCode)
		}
		resp, body = agent.submit(page+"/merge", url.Values{"into": {itoa(w.c3)}})
		if resp.StatusCode != 422 || !strings.Contains(body, "no conversation #"+itoa(w.c3)) || !strings.Contains(body, `value="`+itoa(w.c3)+`"`) {
			t.Errorf("merge into an unseen conversation: %d", resp.StatusCode)
		}
		resp, body = agent.submit(page+"/merge", url.Values{"into": {"#" + itoa(second)}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("merge: %d %s", resp.StatusCode, body)
		}
		// The merged page leads to the target, with the notice.
		resp, _ = agent.get(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/conversations/"+itoa(second)+"?notice=merged" {
			t.Fatalf("merged page: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, body = agent.get(resp.Header.Get("Location"))
		if resp.StatusCode != 200 || !strings.Contains(body, "burns") || !strings.Contains(body, "Conversations merged") {
			t.Errorf("target after the merge: %d", resp.StatusCode)
		}
		if _, body := agent.get(customer); strings.Contains(body, `data-conversation="`+itoa(w.c1)+`"`) {
			t.Error("the customer page still lists the merged conversation")
		}
	})
}
