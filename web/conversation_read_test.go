package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// unreadFor is the viewer's unread flag of each conversation of their
// list, and the unread count of mailbox's unassigned folder.
func unreadFor(t *testing.T, w *workspace, u *helpdesk.User, mailbox int64) (map[int64]bool, int) {
	t.Helper()
	ctx := context.Background()
	list, err := w.store.Conversations(ctx, helpdesk.ViewerOf(u), helpdesk.ConversationFilter{PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	unread := map[int64]bool{}
	for _, c := range list.Conversations {
		unread[c.ID] = c.Unread
	}
	folders, err := w.store.FolderCounts(ctx, helpdesk.ViewerOf(u))
	if err != nil {
		t.Fatal(err)
	}
	for _, mb := range folders {
		for _, f := range mb.Folders {
			if mb.MailboxID == mailbox && f.Folder == helpdesk.FolderUnassigned {
				return unread, f.Unread
			}
		}
	}
	t.Fatalf("no unassigned folder of mailbox %d", mailbox)
	return nil, 0
}

func TestConversationMarkUnread(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		agent := w.session(t, w.agent)
		check := func(step string, want1, want2 bool, wantCount int) {
			t.Helper()
			unread, n := unreadFor(t, w, w.agent, w.mb1)
			if unread[w.c1] != want1 || unread[w.c2] != want2 || n != wantCount {
				t.Errorf("%s: unread #1 %v #2 %v, folder %d; want %v %v %d", step, unread[w.c1], unread[w.c2], n, want1, want2, wantCount)
			}
		}
		check("before", true, true, 2)

		// The page's button: back to the list, which shows it bold again.
		_, body := agent.get("/conversations/" + itoa(w.c1))
		if !strings.Contains(body, `action="/conversations/`+itoa(w.c1)+`/unread"`) {
			t.Errorf("the conversation page has no Mark unread form")
		}
		check("opened #1", false, true, 1)
		if resp, _ := agent.post("/conversations/"+itoa(w.c1)+"/unread", nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("mark unread without CSRF: %d", resp.StatusCode)
		}
		check("refused without CSRF", false, true, 1)
		resp, _ := agent.submit("/conversations/"+itoa(w.c1)+"/unread", nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/?notice=marked-unread" {
			t.Fatalf("mark unread: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		_, body = agent.get(resp.Header.Get("Location"))
		if row := rowOf(body, w.c1); !strings.Contains(row, `class="unread"`) || !strings.Contains(body, "Marked unread") {
			t.Errorf("the list after mark unread: %q", row)
		}
		check("marked #1 unread", true, true, 2)
		if resp, _ := agent.submit("/conversations/"+itoa(w.c3)+"/unread", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("mark unread of another mailbox's conversation: %d", resp.StatusCode)
		}

		// The list's bulk actions; the admin's reading is their own.
		if resp, body := agent.submit("/conversations/bulk", url.Values{"ids": {itoa(w.c1), itoa(w.c2)}, "action": {"read"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("bulk read: %d %s", resp.StatusCode, body)
		}
		check("bulk read", false, false, 0)
		if unread, _ := unreadFor(t, w, w.admin, w.mb1); !unread[w.c1] || !unread[w.c2] {
			t.Errorf("the agent's bulk read made the admin's read: %v", unread)
		}
		if resp, body := agent.submit("/conversations/bulk", url.Values{"ids": {itoa(w.c2)}, "action": {"unread"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("bulk unread: %d %s", resp.StatusCode, body)
		}
		check("bulk unread #2", false, true, 1)

		// The API.
		if code, out, _ := w.call(t, w.agentToken, http.MethodDelete, "/api/v1/conversations/"+itoa(w.c1)+"/read", ""); code != 200 || out["unread"] != true {
			t.Errorf("API mark unread: %d %v", code, out)
		}
		check("API unread #1", true, true, 2)
		if code, out, _ := w.call(t, w.agentToken, http.MethodPost, "/api/v1/conversations/"+itoa(w.c2)+"/read", ""); code != 200 || out["unread"] != false {
			t.Errorf("API mark read: %d %v", code, out)
		}
		check("API read #2", true, false, 1)
		for _, method := range []string{http.MethodPost, http.MethodDelete} {
			if code, _, _ := w.call(t, w.agentToken, method, "/api/v1/conversations/"+itoa(w.c3)+"/read", ""); code != http.StatusNotFound {
				t.Errorf("API %s read of another mailbox's conversation: %d", method, code)
			}
		}
	})
}
