package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// rowOf is the list row of a conversation, or "".
func rowOf(body string, id int64) string {
	m := regexp.MustCompile(`(?s)<tr data-conversation="` + itoa(id) + `"[^>]*>.*?</tr>`).FindString(body)
	return m
}

// folderCount is the sidebar's link of a mailbox's folder.
func folderLinkOf(body string, mailbox int64, folder string) string {
	section := regexp.MustCompile(`(?s)<section data-mailbox="` + itoa(mailbox) + `">.*?</section>`).FindString(body)
	return regexp.MustCompile(`(?s)<a [^>]*data-folder="` + folder + `"[^>]*>.*?</a>`).FindString(section)
}

func TestConversationListUnreadAndFolders(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		agent := w.session(t, w.agent)

		_, body := agent.get("/")
		for _, id := range []int64{w.c1, w.c2} {
			if row := rowOf(body, id); !strings.Contains(row, `class="unread"`) {
				t.Errorf("#%d is not unread before the agent opened it: %q", id, row)
			}
		}
		if strings.Contains(body, `data-mailbox="`+itoa(w.mb2)+`"`) {
			t.Errorf("the sidebar shows mailbox 2 to an agent of mailbox 1")
		}
		if l := folderLinkOf(body, w.mb1, "unassigned"); !strings.Contains(l, "<span class=\"count\" data-count>2</span>") || !strings.Contains(l, ">2 new ·<") {
			t.Errorf("unassigned folder: %q", l)
		}

		agent.get("/conversations/" + itoa(w.c1))
		_, body = agent.get("/")
		if row := rowOf(body, w.c1); row == "" || strings.Contains(row, `class="unread"`) {
			t.Errorf("#%d is still unread after the agent opened it: %q", w.c1, row)
		}
		if row := rowOf(body, w.c2); !strings.Contains(row, `class="unread"`) {
			t.Errorf("#%d became read without being opened: %q", w.c2, row)
		}
		if l := folderLinkOf(body, w.mb1, "unassigned"); !strings.Contains(l, ">1 new ·<") {
			t.Errorf("unassigned folder after reading one: %q", l)
		}
		// Another agent's reading is their own.
		_, adminBody := w.session(t, w.admin).get("/")
		if row := rowOf(adminBody, w.c1); !strings.Contains(row, `class="unread"`) {
			t.Errorf("the agent's reading made #%d read for the admin: %q", w.c1, row)
		}

		// A new customer message makes it unread again.
		d, err := w.store.Conversation(context.Background(), helpdesk.ViewerOf(w.admin), w.c1)
		if err != nil {
			t.Fatal(err)
		}
		w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "alice@customer.example"},
			Subject: "Re: Printer on fire", Text: "Still burning.", InReplyTo: d.Threads[0].MessageID, References: []string{d.Threads[0].MessageID}})
		_, body = agent.get("/")
		if row := rowOf(body, w.c1); !strings.Contains(row, `class="unread"`) || !strings.Contains(row, "Still burning.") {
			t.Errorf("#%d is not unread after a new customer message: %q", w.c1, row)
		}

		// A folder lists its conversations; spam is in Spam only.
		if err := w.store.UpdateConversation(context.Background(), helpdesk.ViewerOf(w.agent), w.c2, helpdesk.ConversationChange{Status: ptr(helpdesk.StatusSpam)}); err != nil {
			t.Fatal(err)
		}
		_, body = agent.get("/?mailbox=" + itoa(w.mb1) + "&folder=unassigned")
		if rowOf(body, w.c1) == "" || rowOf(body, w.c2) != "" {
			t.Errorf("unassigned folder: want #%d only", w.c1)
		}
		_, body = agent.get("/?mailbox=" + itoa(w.mb1) + "&folder=spam")
		if rowOf(body, w.c1) != "" || rowOf(body, w.c2) == "" {
			t.Errorf("spam folder: want #%d only", w.c2)
		}
		if l := folderLinkOf(body, w.mb1, "spam"); !strings.Contains(l, `aria-current="page"`) || !strings.Contains(l, "data-count>1<") {
			t.Errorf("spam folder link: %q", l)
		}

		// The API: folder and sort parameters, unread per conversation.
		resp, raw := w.api(t, w.agentToken, http.MethodGet, "/api/v1/conversations?folder=unassigned&sort=waiting")
		var list helpdesk.ConversationList
		if err := json.Unmarshal([]byte(raw), &list); resp.StatusCode != 200 || err != nil {
			t.Fatalf("API list: %d %v %s", resp.StatusCode, err, raw)
		}
		if len(list.Conversations) != 1 || list.Conversations[0].ID != w.c1 || !list.Conversations[0].Unread || list.Conversations[0].WaitingSince == nil {
			t.Errorf("API unassigned folder: %s", raw)
		}
		resp, raw = w.api(t, w.agentToken, http.MethodGet, "/api/v1/folders")
		if want := `{"mailbox_id":` + itoa(w.mb1) + `,"mailbox_name":"Support 1","folders":[{"folder":"mine","total":0,"unread":0},` +
			`{"folder":"unassigned","total":1,"unread":1},{"folder":"assigned","total":0,"unread":0},{"folder":"closed","total":0,"unread":0},` +
			`{"folder":"spam","total":1,"unread":1}]}`; resp.StatusCode != 200 || !strings.Contains(raw, want) || strings.Contains(raw, "Support 2") {
			t.Errorf("API folders: %d %s", resp.StatusCode, raw)
		}
		for _, q := range []string{"sort=oldest", "folder=inbox"} {
			if resp, _ := w.api(t, w.agentToken, http.MethodGet, "/api/v1/conversations?"+q); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("API %s: %d, want 400", q, resp.StatusCode)
			}
		}
	})
}

func TestConversationListSort(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		ctx := context.Background()
		// c1 is answered; c2 waits since before c4, which is newer.
		c4 := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "dora@customer.example"}, Subject: "Newest", Text: "Hi"}).ConversationID
		if _, err := w.store.AddReply(ctx, helpdesk.ViewerOf(w.agent), w.c1, helpdesk.NewReply{Body: "Done."}); err != nil {
			t.Fatal(err)
		}
		order := func(sort string) []int64 {
			l, err := w.store.Conversations(ctx, helpdesk.ViewerOf(w.agent), helpdesk.ConversationFilter{Sort: sort})
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, c := range l.Conversations {
				got = append(got, c.ID)
			}
			return got
		}
		for sort, want := range map[string][]int64{
			helpdesk.SortWaiting: {w.c2, c4, w.c1},
			helpdesk.SortCreated: {c4, w.c2, w.c1},
		} {
			if got := order(sort); itoaList(got) != itoaList(want) {
				t.Errorf("sort %s: %v, want %v", sort, got, want)
			}
		}
		_, body := w.session(t, w.agent).get("/?sort=waiting&status=all")
		if i2, i4, i1 := strings.Index(body, `data-conversation="`+itoa(w.c2)), strings.Index(body, `data-conversation="`+itoa(c4)), strings.Index(body, `data-conversation="`+itoa(w.c1)); !(i2 < i4 && i4 < i1) || !strings.Contains(body, "answered") {
			t.Errorf("page sorted by waiting: rows at %d, %d, %d", i2, i4, i1)
		}
	})
}

func TestConversationsBulk(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		ctx := context.Background()
		agent := w.session(t, w.agent)
		v := helpdesk.ViewerOf(w.agent)
		version := func(id int64) string {
			d, err := w.store.Conversation(ctx, helpdesk.ViewerOf(w.admin), id)
			if err != nil {
				t.Fatal(err)
			}
			return itoa(d.Version)
		}

		// The form comes back to the list it was sent from.
		if _, body := agent.get("/?status=all&mailbox=" + itoa(w.mb1)); !strings.Contains(body, `action="/conversations/bulk?mailbox=`+itoa(w.mb1)+`&amp;status=all"`) {
			t.Errorf("bulk form's address lacks the list's query")
		}
		form := url.Values{"ids": {itoa(w.c1), itoa(w.c2)}, "action": {"assign"}, "assignee": {itoa(w.agent.ID)}}
		if resp, _ := agent.post("/conversations/bulk?status=all", form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("bulk without CSRF: %d", resp.StatusCode)
		}
		resp, body := agent.submit("/conversations/bulk?status=all", form)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/?notice=bulk-done&status=all" {
			t.Fatalf("bulk assign: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		_, body = agent.get("/?status=all&notice=bulk-done")
		if l := folderLinkOf(body, w.mb1, "mine"); !strings.Contains(l, "data-count>2<") || !strings.Contains(body, "Every selected conversation was changed.") {
			t.Errorf("mine after bulk assign: %q", l)
		}

		// c1's status changed since the list showed it: refused in place;
		// c2 and the other mailbox's c3 are reported beside.
		seen1, seen2 := version(w.c1), version(w.c2)
		if err := w.store.UpdateConversation(ctx, helpdesk.ViewerOf(w.admin), w.c1, helpdesk.ConversationChange{Status: ptr(helpdesk.StatusPending)}); err != nil {
			t.Fatal(err)
		}
		resp, body = agent.submit("/conversations/bulk?status=all", url.Values{
			"ids": {itoa(w.c1), itoa(w.c2), itoa(w.c3)}, "seen_" + itoa(w.c1): {seen1}, "seen_" + itoa(w.c2): {seen2},
			"action": {"status"}, "status": {"closed"}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("bulk with a stale conversation: %d", resp.StatusCode)
		}
		if row := rowOf(body, w.c1); !strings.Contains(row, "data-bulk-error>changed since the list was shown (status by Ada Admin)") || !strings.Contains(row, " checked>") {
			t.Errorf("stale row: %q", row)
		}
		if !strings.Contains(body, `data-bulk-failed="`+itoa(w.c3)+`">#`+itoa(w.c3)+`: no such conversation that you can see`) || !strings.Contains(body, "1 changed, 2 not") {
			t.Errorf("bulk summary lacks the other mailbox's conversation:\n%s", body)
		}
		for id, want := range map[int64]string{w.c1: "pending", w.c2: "closed"} {
			if d := mustGet(t, w, id); d.Status != want {
				t.Errorf("#%d: status %s, want %s", id, d.Status, want)
			}
		}

		// Spam and not spam; tags.
		for _, step := range []struct {
			form url.Values
			want string
		}{
			{url.Values{"ids": {itoa(w.c1)}, "action": {"spam"}}, "spam"},
			{url.Values{"ids": {itoa(w.c1)}, "action": {"not-spam"}}, "active"},
			{url.Values{"ids": {itoa(w.c1), itoa(w.c2)}, "action": {"tag"}, "tag": {"Billing"}}, ""},
		} {
			if resp, body := agent.submit("/conversations/bulk", step.form); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("%v: %d %s", step.form, resp.StatusCode, body)
			}
			if d := mustGet(t, w, w.c1); step.want != "" && d.Status != step.want {
				t.Errorf("%v: status %s", step.form, d.Status)
			}
		}
		if d := mustGet(t, w, w.c2); strings.Join(d.Tags, ",") != "billing" {
			t.Errorf("bulk tag: %v", d.Tags)
		}

		// A bad form keeps what was typed.
		resp, body = agent.submit("/conversations/bulk", url.Values{"ids": {itoa(w.c1)}, "action": {"merge"}, "into": {"next one"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "merge into: must be a conversation number") || !strings.Contains(body, `value="next one"`) {
			t.Errorf("bad merge target: %d\n%s", resp.StatusCode, body)
		}
		if resp, body := agent.submit("/conversations/bulk", url.Values{"action": {"tag"}, "tag": {"x"}}); resp.StatusCode != 422 || !strings.Contains(body, "select at least one conversation") {
			t.Errorf("nothing selected: %d", resp.StatusCode)
		}

		// Merge several into one: their threads move, they lead there.
		c4 := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "alice@customer.example"}, Subject: "Also", Text: "Another"}).ConversationID
		resp, body = agent.submit("/conversations/bulk", url.Values{"ids": {itoa(w.c1), itoa(w.c2), itoa(c4)}, "action": {"merge"}, "into": {"#" + itoa(w.c1)}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("bulk merge: %d %s", resp.StatusCode, body)
		}
		for _, id := range []int64{w.c2, c4} {
			var m *helpdesk.Merged
			if _, err := w.store.Conversation(ctx, v, id); !errors.As(err, &m) || m.Into != w.c1 {
				t.Errorf("#%d after bulk merge: %v", id, err)
			}
		}
		if d := mustGet(t, w, w.c1); len(d.Threads) != 3 {
			t.Errorf("merged conversation has %d threads, want 3", len(d.Threads))
		}
	})
}

func mustGet(t *testing.T, w *workspace, id int64) *helpdesk.ConversationDetail {
	t.Helper()
	d, err := w.store.Conversation(context.Background(), helpdesk.ViewerOf(w.admin), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func itoaList(ids []int64) string {
	var s []string
	for _, id := range ids {
		s = append(s, itoa(id))
	}
	return strings.Join(s, ",")
}

func ptr[T any](v T) *T { return &v }
