package web

import (
	"context"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

func TestMergeMovesDrafts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		ctx := context.Background()
		agent, admin := helpdesk.ViewerOf(w.agent), helpdesk.ViewerOf(w.admin)
		save := func(v helpdesk.Viewer, conv int64, body string) {
			t.Helper()
			if err := w.store.SaveDraft(ctx, v, conv, body, 0); err != nil {
				t.Fatal(err)
			}
		}
		draft := func(v helpdesk.Viewer, conv int64) string {
			t.Helper()
			body, err := w.store.Draft(ctx, v, conv)
			if err != nil {
				t.Fatal(err)
			}
			return body
		}
		// The agent has a draft in both, the admin in the merged one only.
		save(agent, w.c1, "Dear Bob,\nthe invoice")
		save(agent, w.c2, "About the printer")
		save(admin, w.c1, "Admin's words")

		if err := w.store.MergeConversation(ctx, agent, w.c1, w.c2, 0); err != nil {
			t.Fatal(err)
		}
		if got, want := draft(agent, w.c2), "About the printer\n\nDear Bob,\nthe invoice"; got != want {
			t.Errorf("agent's draft after the merge: %q, want %q", got, want)
		}
		if got := draft(admin, w.c2); got != "Admin's words" {
			t.Errorf("admin's draft after the merge: %q", got)
		}
		var left int
		db := teststore.RawDB(t, w.dbURL)
		if err := db.GetContext(ctx, &left, db.Rebind("SELECT COUNT(*) FROM reply_drafts WHERE conversation_id = ?"), w.c1); err != nil || left != 0 {
			t.Errorf("drafts left in the merged conversation: %d %v", left, err)
		}
		// The target's page offers the agent their joined draft.
		if _, body := w.session(t, w.agent).get("/conversations/" + itoa(w.c2)); !strings.Contains(body, "About the printer\n\nDear Bob,\nthe invoice") {
			t.Errorf("the target's page lacks the joined draft")
		}
	})
}
