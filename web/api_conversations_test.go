package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// workspace is a server with two mailboxes and conversations in both; the
// agent works on mailbox 1 only.
type workspace struct {
	*env
	mb1, mb2   int64
	c1, c2, c3 int64 // c1, c2 in mailbox 1; c3 in mailbox 2
	uid        atomic.Uint32
}

func setupWorkspace(t *testing.T, dialect string) *workspace {
	t.Helper()
	w := &workspace{env: setup(t, dialect)}
	w.mb1, w.mb2 = w.mailbox(t, 1), w.mailbox(t, 2)
	if err := w.store.SetUserMailboxes(context.Background(), w.agent.ID, []int64{w.mb1}); err != nil {
		t.Fatal(err)
	}
	w.c1 = w.ingest(t, w.mb1, &helpdesk.IncomingMessage{
		From: helpdesk.Address{Name: "Alice", Email: "alice@customer.example"}, Subject: "Printer on fire",
		Text: "It burns.", HTML: "<p>It <b>burns</b>.</p>",
		Attachments: []helpdesk.Attachment{
			{Filename: "photo.png", ContentType: "image/png", ContentID: "photo@x", Inline: true, Data: []byte("\x89PNG fake")},
			{Filename: "notes.html", ContentType: "text/html", Data: []byte("<script>window.__pwned=1</script>")},
		},
	}).ConversationID
	w.c2 = w.ingest(t, w.mb1, &helpdesk.IncomingMessage{
		From: helpdesk.Address{Email: "bob@customer.example"}, Subject: "Invoice", Text: "Where is my invoice?",
	}).ConversationID
	w.c3 = w.ingest(t, w.mb2, &helpdesk.IncomingMessage{
		From: helpdesk.Address{Email: "carol@customer.example"}, Subject: "Secret", Text: "For mailbox 2 only",
	}).ConversationID
	return w
}

func (w *workspace) ingest(t testing.TB, mailboxID int64, msg *helpdesk.IncomingMessage) helpdesk.IngestResult {
	t.Helper()
	uid := w.uid.Add(1)
	if msg.MessageID == "" {
		msg.MessageID = fmt.Sprintf("m%d@customer.example", uid)
	}
	msg.DedupKey = "mid:" + msg.MessageID
	msg.Raw = []byte("Subject: " + msg.Subject + "\r\n\r\n" + msg.Text)
	msg.To = []helpdesk.Address{{Email: fmt.Sprintf("support%d@example.com", mailboxID)}}
	fence, err := w.store.Fence(context.Background(), mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := teststore.Ingest(context.Background(), w.store, helpdesk.MessageSource{
		MailboxID: mailboxID, Folder: "INBOX", UIDValidity: 1, UID: uid, Fence: fence}, msg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// call sends a JSON API request with a raw body ("" for none).
func (w *workspace) call(t *testing.T, token, method, path, body string) (int, map[string]any, http.Header) {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequest(method, w.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, raw := w.anonymous(t).do(req)
	var out map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, out, resp.Header
}

// snapshot is what the admin sees of a conversation, to prove that bad
// requests change nothing.
func (w *workspace) snapshot(t *testing.T, id int64) string {
	t.Helper()
	d, err := w.store.Conversation(context.Background(), helpdesk.Viewer{Admin: true}, id)
	if err != nil {
		t.Fatal(err)
	}
	d.UpdatedAt = d.CreatedAt
	b, _ := json.Marshal(d)
	return string(b)
}

func (w *workspace) outboxReplies(t *testing.T) int {
	t.Helper()
	list, err := w.store.Conversations(context.Background(), helpdesk.Viewer{Admin: true}, helpdesk.ConversationFilter{PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range list.Conversations {
		d, _ := w.store.Conversation(context.Background(), helpdesk.Viewer{Admin: true}, c.ID)
		for _, th := range d.Threads {
			if th.Kind == "reply" {
				n++
			}
		}
	}
	return n
}

func convIDs(t *testing.T, out map[string]any) []int64 {
	t.Helper()
	ids := []int64{}
	list, ok := out["conversations"].([]any)
	if !ok {
		t.Fatalf("no conversations in %v", out)
	}
	for _, c := range list {
		ids = append(ids, int64(c.(map[string]any)["id"].(float64)))
	}
	return ids
}

func TestAPIConversationList(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		cases := []struct {
			token, query string
			want         []int64
		}{
			{w.adminToken, "", []int64{w.c3, w.c2, w.c1}},
			{w.agentToken, "", []int64{w.c2, w.c1}},
			{w.agentToken, "?mailbox=" + itoa(w.mb2), []int64{}},
			{w.adminToken, "?mailbox=" + itoa(w.mb2), []int64{w.c3}},
			{w.adminToken, "?q=INVOICE", []int64{w.c2}},
			{w.adminToken, "?q=alice", []int64{w.c1}},
			{w.adminToken, "?q=burns", []int64{w.c1}},
			{w.adminToken, "?status=closed", []int64{}},
			{w.adminToken, "?status=active&page=2&per_page=2", []int64{w.c1}},
			{w.adminToken, "?assignee=none", []int64{w.c3, w.c2, w.c1}},
			{w.adminToken, "?tag=nothing", []int64{}},
		}
		for _, tc := range cases {
			code, out, _ := w.call(t, tc.token, "GET", "/api/v1/conversations"+tc.query, "")
			if code != 200 {
				t.Fatalf("%s: %d %v", tc.query, code, out)
			}
			if got := convIDs(t, out); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s: got %v, want %v", tc.query, got, tc.want)
			}
		}
		_, out, _ := w.call(t, w.agentToken, "GET", "/api/v1/conversations", "")
		if counts := out["counts"].(map[string]any); counts["active"] != 2.0 || counts["closed"] != 0.0 || out["total"] != 2.0 {
			t.Errorf("counts %v total %v", out["counts"], out["total"])
		}
		first := out["conversations"].([]any)[0].(map[string]any)
		if first["subject"] != "Invoice" || first["customer_email"] != "bob@customer.example" || first["status"] != "active" {
			t.Errorf("summary %v", first)
		}

		for _, q := range []string{"?mailbox=abc", "?mailbox=-1", "?status=open", "?page=0", "?page=x", "?per_page=101",
			"?assignee=someone"} {
			if code, out, _ := w.call(t, w.adminToken, "GET", "/api/v1/conversations"+q, ""); code != 400 || out["error"] == nil {
				t.Errorf("%s: %d %v, want 400", q, code, out)
			}
		}
		if code, _, _ := w.call(t, "", "GET", "/api/v1/conversations", ""); code != 401 {
			t.Errorf("anonymous: %d", code)
		}
		if code, _, _ := w.call(t, "hd_wrong", "GET", "/api/v1/conversations", ""); code != 401 {
			t.Errorf("bad token: %d", code)
		}
	})
}

func TestAPIConversationGet(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		code, out, _ := w.call(t, w.agentToken, "GET", "/api/v1/conversations/"+itoa(w.c1), "")
		if code != 200 {
			t.Fatalf("%d %v", code, out)
		}
		threads := out["threads"].([]any)
		if len(threads) != 1 || out["subject"] != "Printer on fire" {
			t.Fatalf("%v", out)
		}
		th := threads[0].(map[string]any)
		if th["message_id"] != "m1@customer.example" || th["from"] != "alice@customer.example" || th["body_text"] != "It burns." || th["kind"] != "customer" {
			t.Errorf("thread %v", th)
		}
		if _, leaked := th["body_html"]; leaked {
			t.Errorf("unsanitised HTML in the API: %v", th)
		}
		atts := th["attachments"].([]any)
		if len(atts) != 2 || atts[1].(map[string]any)["filename"] != "notes.html" || !strings.HasPrefix(atts[1].(map[string]any)["url"].(string), "/api/v1/attachments/") {
			t.Errorf("attachments %v", atts)
		}

		for _, tc := range []struct {
			token, path string
			want        int
		}{
			{w.agentToken, "/api/v1/conversations/" + itoa(w.c3), 404}, // another mailbox: as if it did not exist
			{w.adminToken, "/api/v1/conversations/999999", 404},
			{w.adminToken, "/api/v1/conversations/abc", 400},
			{w.adminToken, "/api/v1/conversations/0", 400},
			{w.adminToken, "/api/v1/conversations/99999999999999999999", 400},
			{"", "/api/v1/conversations/" + itoa(w.c1), 401},
		} {
			if code, out, _ := w.call(t, tc.token, "GET", tc.path, ""); code != tc.want {
				t.Errorf("%s: %d %v, want %d", tc.path, code, out, tc.want)
			}
		}
	})
}

func TestAPIRepliesAndNotes(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		path := "/api/v1/conversations/" + itoa(w.c1)
		code, out, _ := w.call(t, w.agentToken, "POST", path+"/replies", `{"body": "We are on our way."}`)
		if code != 201 || out["kind"] != "reply" || out["body_text"] != "We are on our way." || out["from"] != "support1@example.com" ||
			!strings.HasPrefix(out["message_id"].(string), "hd-") {
			t.Fatalf("reply: %d %v", code, out)
		}
		code, out, _ = w.call(t, w.agentToken, "POST", path+"/notes", `{"body": "Fire brigade called."}`)
		if code != 201 || out["kind"] != "note" || out["message_id"] != "" {
			t.Fatalf("note: %d %v", code, out)
		}
		_, conv, _ := w.call(t, w.agentToken, "GET", path, "")
		if n := len(conv["threads"].([]any)); n != 3 {
			t.Errorf("%d threads after reply and note", n)
		}

		before := map[int64]string{w.c1: w.snapshot(t, w.c1), w.c3: w.snapshot(t, w.c3)}
		replies := w.outboxReplies(t)
		for _, kind := range []string{"replies", "notes"} {
			for _, tc := range []struct {
				name, token, path, body string
				want                    int
			}{
				{"no body", w.agentToken, path, `{}`, 422},
				{"empty body", w.agentToken, path, `{"body": "   "}`, 422},
				{"number body", w.agentToken, path, `{"body": 5}`, 422},
				{"array body", w.agentToken, path, `{"body": ["a"]}`, 422},
				{"unknown field", w.agentToken, path, `{"body": "x", "bcc": "evil@example.com"}`, 422},
				{"not JSON", w.agentToken, path, `body=hello`, 400},
				{"JSON array", w.agentToken, path, `["hello"]`, 422},
				{"two objects", w.agentToken, path, `{"body": "a"} {"body": "b"}`, 400},
				{"empty request", w.agentToken, path, ``, 400},
				{"other mailbox", w.agentToken, "/api/v1/conversations/" + itoa(w.c3), `{"body": "hi"}`, 404},
				{"unknown conversation", w.adminToken, "/api/v1/conversations/424242", `{"body": "hi"}`, 404},
				{"bad id", w.adminToken, "/api/v1/conversations/x1", `{"body": "hi"}`, 400},
				{"anonymous", "", path, `{"body": "hi"}`, 401},
			} {
				code, out, _ := w.call(t, tc.token, "POST", tc.path+"/"+kind, tc.body)
				if code != tc.want {
					t.Errorf("%s %s: %d %v, want %d", kind, tc.name, code, out, tc.want)
				}
				if code >= 400 && code != 401 && out["error"] == nil {
					t.Errorf("%s %s: no error message: %v", kind, tc.name, out)
				}
			}
		}
		for id, snap := range before {
			if got := w.snapshot(t, id); got != snap {
				t.Errorf("bad requests changed conversation %d:\n%s\n%s", id, snap, got)
			}
		}
		if got := w.outboxReplies(t); got != replies {
			t.Errorf("bad requests made replies: %d -> %d", replies, got)
		}
	})
}

func TestAPIPatchConversation(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		path := "/api/v1/conversations/" + itoa(w.c1)
		code, out, _ := w.call(t, w.agentToken, "PATCH", path, fmt.Sprintf(`{"status": "pending", "assignee": %d}`, w.agent.ID))
		if code != 200 || out["status"] != "pending" || out["assignee_id"] != float64(w.agent.ID) || out["assignee_name"] != "Aggie Agent" {
			t.Fatalf("patch: %d %v", code, out)
		}
		if code, out, _ = w.call(t, w.agentToken, "PATCH", path, `{"assignee": null}`); code != 200 || out["assignee_id"] != nil || out["status"] != "pending" {
			t.Fatalf("unassign: %d %v", code, out)
		}
		if code, out, _ = w.call(t, w.agentToken, "PATCH", path, `{"assignee": "admin@example.com"}`); code != 200 || out["assignee_id"] != float64(w.admin.ID) {
			t.Fatalf("assign by e-mail: %d %v", code, out)
		}
		if code, out, _ = w.call(t, w.agentToken, "PATCH", path, `{"status": "closed"}`); code != 200 || out["status"] != "closed" || out["assignee_id"] != float64(w.admin.ID) {
			t.Fatalf("status only: %d %v", code, out)
		}

		// The agent of mailbox 2 exists but cannot see mailbox 1.
		stranger, err := w.store.CreateUser(context.Background(), helpdesk.UserInput{Email: "stranger@example.com", Name: "S", Role: "agent", Password: "stranger-password"})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.store.SetUserMailboxes(context.Background(), stranger.ID, []int64{w.mb2}); err != nil {
			t.Fatal(err)
		}
		before := map[int64]string{w.c1: w.snapshot(t, w.c1), w.c3: w.snapshot(t, w.c3)}
		for _, tc := range []struct {
			name, token, path, body string
			want                    int
		}{
			{"unknown status", w.agentToken, path, `{"status": "open"}`, 422},
			{"status number", w.agentToken, path, `{"status": 3}`, 422},
			{"valid status, bad assignee", w.agentToken, path, `{"status": "active", "assignee": 999999}`, 422},
			{"assignee without access", w.agentToken, path, fmt.Sprintf(`{"status": "active", "assignee": %d}`, stranger.ID), 422},
			{"assignee bool", w.agentToken, path, `{"assignee": true}`, 422},
			{"assignee float", w.agentToken, path, `{"assignee": 1.5}`, 422},
			{"assignee negative", w.agentToken, path, `{"assignee": -1}`, 422},
			{"unknown e-mail", w.agentToken, path, `{"assignee": "nobody@example.com"}`, 422},
			{"nothing", w.agentToken, path, `{}`, 422},
			{"unknown field", w.agentToken, path, `{"subject": "hijacked"}`, 422},
			{"not JSON", w.agentToken, path, `status=open`, 400},
			{"other mailbox", w.agentToken, "/api/v1/conversations/" + itoa(w.c3), `{"status": "spam"}`, 404},
			{"unknown conversation", w.adminToken, "/api/v1/conversations/424242", `{"status": "spam"}`, 404},
		} {
			code, out, _ := w.call(t, tc.token, "PATCH", tc.path, tc.body)
			if code != tc.want {
				t.Errorf("%s: %d %v, want %d", tc.name, code, out, tc.want)
			}
		}
		for id, snap := range before {
			if got := w.snapshot(t, id); got != snap {
				t.Errorf("bad requests changed conversation %d:\n%s\n%s", id, snap, got)
			}
		}
	})
}

func TestAPITags(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		path := "/api/v1/conversations/" + itoa(w.c1) + "/tags/"
		for _, name := range []string{"Urgent", "urgent", "needs%20review"} {
			if code, out, _ := w.call(t, w.agentToken, "POST", path+name, ""); code != 200 {
				t.Fatalf("add %s: %d %v", name, code, out)
			}
		}
		_, out, _ := w.call(t, w.agentToken, "GET", "/api/v1/conversations?tag=urgent", "")
		if got := convIDs(t, out); fmt.Sprint(got) != fmt.Sprint([]int64{w.c1}) {
			t.Errorf("filter by tag: %v", got)
		}
		code, out, _ := w.call(t, w.agentToken, "DELETE", path+"URGENT", "")
		if code != 200 || fmt.Sprint(out["tags"]) != "[needs review]" {
			t.Errorf("delete: %d %v", code, out)
		}
		if code, out, _ := w.call(t, w.agentToken, "DELETE", path+"never-there", ""); code != 200 {
			t.Errorf("delete absent tag: %d %v", code, out)
		}

		before := map[int64]string{w.c1: w.snapshot(t, w.c1), w.c3: w.snapshot(t, w.c3)}
		for _, tc := range []struct {
			name, token, method, path string
			want                      int
		}{
			{"markup", w.agentToken, "POST", path + "%3Cscript%3E", 422},
			{"slash", w.agentToken, "POST", path + "a%2Fb", 422},
			{"too long", w.agentToken, "POST", path + strings.Repeat("x", 51), 422},
			{"other mailbox", w.agentToken, "POST", "/api/v1/conversations/" + itoa(w.c3) + "/tags/x", 404},
			{"other mailbox delete", w.agentToken, "DELETE", "/api/v1/conversations/" + itoa(w.c3) + "/tags/x", 404},
			{"unknown conversation", w.adminToken, "POST", "/api/v1/conversations/424242/tags/x", 404},
			{"bad id", w.adminToken, "POST", "/api/v1/conversations/abc/tags/x", 400},
			{"anonymous", "", "POST", path + "x", 401},
		} {
			if code, out, _ := w.call(t, tc.token, tc.method, tc.path, ""); code != tc.want {
				t.Errorf("%s: %d %v, want %d", tc.name, code, out, tc.want)
			}
		}
		for id, snap := range before {
			if got := w.snapshot(t, id); got != snap {
				t.Errorf("bad requests changed conversation %d:\n%s\n%s", id, snap, got)
			}
		}
	})
}

func TestAttachmentDownload(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		d, err := w.store.Conversation(context.Background(), helpdesk.Viewer{Admin: true}, w.c1)
		if err != nil {
			t.Fatal(err)
		}
		th := d.Threads[0]
		png, htmlFile := th.Attachments[0], th.Attachments[1]

		get := func(token, path string) (int, http.Header, string) {
			req, _ := http.NewRequest("GET", w.ts.URL+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, body := w.anonymous(t).do(req)
			return resp.StatusCode, resp.Header, body
		}
		code, h, body := get(w.agentToken, "/api/v1/attachments/"+itoa(htmlFile.ID))
		if code != 200 || body != "<script>window.__pwned=1</script>" {
			t.Fatalf("download: %d %q", code, body)
		}
		if h.Get("Content-Type") != "application/octet-stream" || h.Get("X-Content-Type-Options") != "nosniff" ||
			!strings.HasPrefix(h.Get("Content-Disposition"), "attachment;") || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("HTML attachment headers: %v", h)
		}
		if code, _, _ := get(w.agentToken, "/api/v1/attachments/999999"); code != 404 {
			t.Errorf("unknown attachment: %d", code)
		}

		// Pages: the signed-in agent, and the agent of another mailbox.
		agent := w.session(t, w.agent)
		resp, body := agent.get("/threads/" + itoa(th.ID) + "/inline?cid=photo%40x")
		if resp.StatusCode != 200 || body != "\x89PNG fake" || resp.Header.Get("Content-Type") != "image/png" ||
			!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline;") {
			t.Errorf("inline image: %d %v", resp.StatusCode, resp.Header)
		}
		if resp, _ := agent.get("/threads/" + itoa(th.ID) + "/inline?cid=nope"); resp.StatusCode != 404 {
			t.Errorf("unknown cid: %d", resp.StatusCode)
		}
		if resp, _ := agent.get("/attachments/" + itoa(png.ID)); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
			t.Errorf("page download: %d %v", resp.StatusCode, resp.Header)
		}
		other, err := w.store.CreateUser(context.Background(), helpdesk.UserInput{Email: "other@example.com", Name: "O", Role: "agent", Password: "other-password-1"})
		if err != nil {
			t.Fatal(err)
		}
		stranger := w.session(t, other)
		if resp, _ := stranger.get("/attachments/" + itoa(png.ID)); resp.StatusCode != 404 {
			t.Errorf("stranger download: %d", resp.StatusCode)
		}
		if resp, _ := stranger.get("/threads/" + itoa(th.ID) + "/inline?cid=photo%40x"); resp.StatusCode != 404 {
			t.Errorf("stranger inline: %d", resp.StatusCode)
		}
	})
}

func TestSafeFilename(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":                    "report.pdf",
		"../../etc/passwd":              "passwd",
		`C:\Windows\evil.exe`:           "evil.exe",
		"a\r\nContent-Type: text/html":  "html",
		`quo"te.txt`:                    "quo_te.txt",
		"invoice\u202Efdp.exe":          "invoice_fdp.exe",
		"":                              "attachment",
		"...":                           "attachment",
		"Grüße.txt":                     "Grüße.txt",
		strings.Repeat("a", 300) + ".x": strings.Repeat("a", 198) + ".x",
	} {
		if got := safeFilename(in); got != want {
			t.Errorf("safeFilename(%q) = %q, want %q", in, got, want)
		}
	}
	if got := contentDisposition("attachment", "Grüße.txt"); got != "attachment; filename*=utf-8''Gr%C3%BC%C3%9Fe.txt" {
		t.Errorf("non-ASCII disposition %q", got)
	}
}
