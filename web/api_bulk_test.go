package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// apiBulkResults posts a bulk action and returns its results.
func apiBulkResults(t *testing.T, w *workspace, body string) []apiBulkResult {
	t.Helper()
	code, out, _ := w.call(t, w.agentToken, http.MethodPost, "/api/v1/conversations/bulk", body)
	if code != http.StatusOK {
		t.Fatalf("bulk %s: %d %v", body, code, out)
	}
	raw, _ := json.Marshal(out["results"])
	var results []apiBulkResult
	if err := json.Unmarshal(raw, &results); err != nil {
		t.Fatal(err)
	}
	return results
}

func TestAPIBulk(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		ctx := context.Background()
		admin := helpdesk.ViewerOf(w.admin)

		// Assign: the other mailbox's conversation is refused beside.
		res := apiBulkResults(t, w, `{"action":"assign","ids":[`+itoaList([]int64{w.c1, w.c2, w.c3})+`],"assignee_id":`+itoa(w.agent.ID)+`}`)
		if len(res) != 3 || !res[0].OK || !res[1].OK || res[2].OK || res[2].Error != "no such conversation that you can see" {
			t.Errorf("bulk assign: %+v", res)
		}
		if d := mustGet(t, w, w.c2); d.AssigneeID == nil || *d.AssigneeID != w.agent.ID {
			t.Errorf("#%d not assigned", w.c2)
		}
		if d, err := w.store.Conversation(ctx, admin, w.c3); err != nil || d.AssigneeID != nil {
			t.Errorf("the other mailbox's conversation changed: %v", err)
		}

		// Status on versions: c1's status changed since the version given.
		seen1, seen2 := mustGet(t, w, w.c1).Version, mustGet(t, w, w.c2).Version
		if err := w.store.UpdateConversation(ctx, admin, w.c1, helpdesk.ConversationChange{Status: ptr(helpdesk.StatusClosed)}); err != nil {
			t.Fatal(err)
		}
		res = apiBulkResults(t, w, `{"action":"status","status":"pending","ids":[`+itoaList([]int64{w.c1, w.c2})+`],"versions":{"`+itoa(w.c1)+`":`+itoa(seen1)+`,"`+itoa(w.c2)+`":`+itoa(seen2)+`}}`)
		if len(res) != 2 || res[0].OK || res[0].Conflict == nil || len(res[0].Conflict.Changes) != 1 || res[0].Conflict.Changes[0].Field != helpdesk.ChangedStatus || !res[1].OK {
			t.Errorf("bulk status with a stale version: %+v", res)
		}
		if mustGet(t, w, w.c1).Status != helpdesk.StatusClosed || mustGet(t, w, w.c2).Status != helpdesk.StatusPending {
			t.Errorf("statuses after bulk status: the stale one changed or the other did not")
		}

		// Spam, not spam, tag, read, unread.
		for _, step := range []struct{ body, status string }{
			{`{"action":"spam","ids":[` + itoa(w.c1) + `]}`, helpdesk.StatusSpam},
			{`{"action":"not_spam","ids":[` + itoa(w.c1) + `]}`, helpdesk.StatusActive},
			{`{"action":"tag","tag":"Billing","ids":[` + itoa(w.c1) + `]}`, ""},
		} {
			if res := apiBulkResults(t, w, step.body); len(res) != 1 || !res[0].OK {
				t.Fatalf("%s: %+v", step.body, res)
			}
			if d := mustGet(t, w, w.c1); step.status != "" && d.Status != step.status {
				t.Errorf("%s: status %s", step.body, d.Status)
			}
		}
		if d := mustGet(t, w, w.c1); strings.Join(d.Tags, ",") != "billing" {
			t.Errorf("bulk tag: %v", d.Tags)
		}
		apiBulkResults(t, w, `{"action":"read","ids":[`+itoaList([]int64{w.c1, w.c2})+`]}`)
		if unread, _ := unreadFor(t, w, w.agent, w.mb1); unread[w.c1] || unread[w.c2] {
			t.Errorf("after bulk read: %v", unread)
		}
		apiBulkResults(t, w, `{"action":"unread","ids":[`+itoa(w.c2)+`]}`)
		if unread, _ := unreadFor(t, w, w.agent, w.mb1); unread[w.c1] || !unread[w.c2] {
			t.Errorf("after bulk unread: %v", unread)
		}

		// Bad input: 422 naming the field, nothing changed.
		before := w.snapshot(t, w.c1)
		for body, field := range map[string]string{
			`{"action":"delete","ids":[` + itoa(w.c1) + `]}`:                                      "action",
			`{"action":"status","ids":[]}`:                                                        "ids",
			`{"action":"status","status":"done","ids":[` + itoa(w.c1) + `]}`:                      "status",
			`{"action":"assign","ids":[` + itoa(w.c1) + `]}`:                                      "assignee_id",
			`{"action":"assign","assignee_id":"bob","ids":[` + itoa(w.c1) + `]}`:                  "assignee_id",
			`{"action":"merge","ids":[` + itoa(w.c1) + `]}`:                                       "into",
			`{"action":"tag","tag":"x","ids":[0]}`:                                                "ids",
			`{"action":"tag","tag":"x","ids":[` + itoa(w.c1) + `],"versions":{"abc":1}}`:          "versions",
			`{"action":"tag","tag":"x","ids":[` + itoa(w.c1) + `],"versions":{"99999":1}}`:        "versions",
			`{"action":"tag","tag":"x","ids":[` + itoa(w.c1) + `],"colour":"red"}`:                "colour",
			`{"action":"tag","tag":"` + strings.Repeat("x", 80) + `","ids":[` + itoa(w.c1) + `]}`: "tag",
		} {
			code, out, _ := w.call(t, w.agentToken, http.MethodPost, "/api/v1/conversations/bulk", body)
			fields, _ := out["fields"].(map[string]any)
			if code != http.StatusUnprocessableEntity || fields[field] == nil {
				t.Errorf("%s: %d %v, want 422 naming %s", body, code, out, field)
			}
		}
		if after := w.snapshot(t, w.c1); after != before {
			t.Errorf("bad bulk requests changed #%d", w.c1)
		}
		if code, _, _ := w.call(t, "", http.MethodPost, "/api/v1/conversations/bulk", `{"action":"read","ids":[1]}`); code != http.StatusUnauthorized {
			t.Errorf("bulk without a token: %d", code)
		}

		// Merge: the others lead into the one named.
		res = apiBulkResults(t, w, `{"action":"merge","into":`+itoa(w.c1)+`,"ids":[`+itoaList([]int64{w.c1, w.c2})+`]}`)
		if len(res) != 2 || !res[0].OK || !res[1].OK {
			t.Errorf("bulk merge: %+v", res)
		}
		var m *helpdesk.Merged
		if _, err := w.store.Conversation(ctx, admin, w.c2); !errors.As(err, &m) || m.Into != w.c1 {
			t.Errorf("#%d after bulk merge: %v", w.c2, err)
		}
	})
}
