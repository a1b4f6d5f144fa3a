package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// callIfMatch is call with an If-Match header ("" for none).
func (w *workspace) callIfMatch(t *testing.T, token, method, path, body, ifMatch string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, w.ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, raw := w.anonymous(t).do(req)
	var out map[string]any
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
	}
	return resp.StatusCode, out, resp.Header
}

// refused asserts a 409 that names what changed and by whom, and carries
// the conversation as it is now.
func refused(t *testing.T, what string, code int, out map[string]any, field, by string, version float64) {
	t.Helper()
	if code != http.StatusConflict {
		t.Fatalf("%s: %d %v, want 409", what, code, out)
	}
	changes, _ := out["changes"].([]any)
	conv, _ := out["conversation"].(map[string]any)
	if len(changes) != 1 || conv == nil || conv["version"] != version || out["error"] == nil {
		t.Fatalf("%s: 409 body %v", what, out)
	}
	ch := changes[0].(map[string]any)
	if ch["field"] != field || ch["by"] != by {
		t.Errorf("%s: change %v, want %s by %q", what, ch, field, by)
	}
}

func TestAPIVersions(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		path := "/api/v1/conversations/" + itoa(w.c1)
		code, out, h := w.call(t, w.agentToken, "GET", path, "")
		seen, _ := out["version"].(float64)
		if code != 200 || seen < 1 || h.Get("ETag") != fmt.Sprintf(`"%d"`, int64(seen)) {
			t.Fatalf("get: %d version %v ETag %q", code, out["version"], h.Get("ETag"))
		}
		v := func(n float64) string { return fmt.Sprint(int64(n)) }

		// Lost update: the admin closes; the agent's change of the status
		// made on the older version is refused, with the current state.
		code, out, h = w.call(t, w.adminToken, "PATCH", path, `{"status": "closed", "version": `+v(seen)+`}`)
		if code != 200 || out["version"] != seen+1 || h.Get("ETag") != `"`+v(seen+1)+`"` {
			t.Fatalf("admin's patch: %d %v", code, out)
		}
		before := w.snapshot(t, w.c1)
		code, out, _ = w.call(t, w.agentToken, "PATCH", path, fmt.Sprintf(`{"status": "active", "assignee": %d, "version": %s}`, w.agent.ID, v(seen)))
		refused(t, "stale patch", code, out, "status", "Ada Admin", seen+1)
		if conv := out["conversation"].(map[string]any); conv["status"] != "closed" {
			t.Errorf("409 shows status %v", conv["status"])
		}
		code, out, _ = w.callIfMatch(t, w.agentToken, "PATCH", path, `{"status": "pending"}`, `"`+v(seen)+`"`)
		refused(t, "stale patch by If-Match", code, out, "status", "Ada Admin", seen+1)
		if got := w.snapshot(t, w.c1); got != before {
			t.Errorf("refused patches changed the conversation:\n%s\n%s", before, got)
		}
		code, out, _ = w.callIfMatch(t, w.agentToken, "PATCH", path, `{"status": "pending"}`, `W/"`+v(seen+1)+`"`)
		if code != 200 || out["status"] != "pending" || out["version"] != seen+2 {
			t.Fatalf("patch on the current version: %d %v", code, out)
		}
		seen += 2

		// Double answer: the admin answers first; the agent's reply and
		// note on the older version are refused and nothing is queued.
		code, out, h = w.call(t, w.adminToken, "POST", path+"/replies", `{"body": "Fire is out.", "version": `+v(seen)+`, "status": "closed"}`)
		delivery, _ := out["delivery"].(map[string]any)
		if code != 201 || delivery["status"] != "queued" || h.Get("ETag") != `"`+v(seen+1)+`"` {
			t.Fatalf("admin's reply: %d %v %q", code, out, h.Get("ETag"))
		}
		replies := w.outboxReplies(t)
		code, out, _ = w.call(t, w.agentToken, "POST", path+"/replies", `{"body": "On our way!", "version": `+v(seen)+`}`)
		refused(t, "stale reply", code, out, "messages", "Ada Admin", seen+1)
		if conv := out["conversation"].(map[string]any); conv["status"] != "closed" || len(conv["threads"].([]any)) != 2 {
			t.Errorf("409 conversation: %v", conv)
		}
		code, out, _ = w.callIfMatch(t, w.agentToken, "POST", path+"/replies", `{"body": "On our way!"}`, v(seen))
		refused(t, "stale reply by If-Match", code, out, "messages", "Ada Admin", seen+1)
		code, out, _ = w.call(t, w.agentToken, "POST", path+"/notes", `{"body": "I answer this", "version": `+v(seen)+`}`)
		refused(t, "stale note", code, out, "messages", "Ada Admin", seen+1)
		if got := w.outboxReplies(t); got != replies {
			t.Errorf("refused replies were queued: %d -> %d", replies, got)
		}
		seen++
		code, out, _ = w.call(t, w.agentToken, "POST", path+"/notes", `{"body": "Seen it.", "version": `+v(seen)+`}`)
		if code != 201 {
			t.Fatalf("note on the current version: %d %v", code, out)
		}
		seen++

		// Tags: If-Match or ?version=.
		code, out, _ = w.callIfMatch(t, w.adminToken, "POST", path+"/tags/urgent", "", `"`+v(seen)+`"`)
		if code != 200 || out["version"] != seen+1 {
			t.Fatalf("tag: %d %v", code, out)
		}
		code, out, _ = w.callIfMatch(t, w.agentToken, "DELETE", path+"/tags/urgent", "", `"`+v(seen)+`"`)
		refused(t, "stale untag", code, out, "tags", "Ada Admin", seen+1)
		code, out, _ = w.callIfMatch(t, w.agentToken, "POST", path+"/tags/later?version="+v(seen), "", "")
		refused(t, "stale tag by ?version=", code, out, "tags", "Ada Admin", seen+1)
		// Without a version, the last write wins.
		if code, out, _ = w.call(t, w.agentToken, "DELETE", path+"/tags/urgent", ""); code != 200 || len(out["tags"].([]any)) != 0 {
			t.Fatalf("untag without a version: %d %v", code, out)
		}

		for _, tc := range []struct{ name, method, path, body, ifMatch string }{
			{"If-Match not a number", "PATCH", path, `{"status": "active"}`, `"abc"`},
			{"version zero", "PATCH", path, `{"status": "active", "version": 0}`, ""},
			{"version string", "POST", path + "/replies", `{"body": "x", "version": "7"}`, ""},
			{"version from the future", "POST", path + "/notes", `{"body": "x", "version": 99999}`, ""},
			{"empty status after sending", "POST", path + "/replies", `{"body": "x", "status": ""}`, ""},
			{"status on a note", "POST", path + "/notes", `{"body": "x", "status": "closed"}`, ""},
		} {
			if code, out, _ := w.callIfMatch(t, w.agentToken, tc.method, tc.path, tc.body, tc.ifMatch); code != 422 || out["fields"] == nil {
				t.Errorf("%s: %d %v, want 422 naming the field", tc.name, code, out)
			}
		}
	})
}
