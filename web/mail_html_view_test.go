package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// TestMailHTMLSanitisedOnce: the first view of a thread's HTML keeps the
// sanitised result, per view kind; later views show what was kept
// instead of sanitising again, until the sanitiser's version changes.
func TestMailHTMLSanitisedOnce(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		w := setupWorkspace(t, dialect)
		agent := w.session(t, w.agent)
		page := "/conversations/" + itoa(w.c1)
		mailBox := func(path string) string {
			t.Helper()
			resp, body := agent.get(path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", path, resp.StatusCode)
			}
			_, rest, ok := strings.Cut(body, `<div class="mail-html" dir="auto">`)
			if !ok {
				t.Fatalf("GET %s shows no mail HTML:\n%s", path, body)
			}
			html, _, _ := strings.Cut(rest, "</div>\n")
			return html
		}
		if got := mailBox(page); got != "<p>It <b>burns</b>.</p>" {
			t.Fatalf("first view shows %q", got)
		}
		v := helpdesk.ViewerOf(w.agent)
		d, err := w.store.Conversation(ctx, v, w.c1)
		if err != nil {
			t.Fatal(err)
		}
		kept, err := w.store.SanitizedHTML(ctx, v, []int64{d.Threads[0].ID}, false, mailHTMLPolicy)
		h, ok := kept[d.Threads[0].ID]
		if err != nil || len(kept) != 1 || !ok {
			t.Fatalf("kept after the first view: %v %+v", err, kept)
		}
		if h.HTML != "<p>It <b>burns</b>.</p>" || h.Blocked || h.RemoteImages {
			t.Fatalf("kept %+v", h)
		}

		// The next view reads what was kept: change it and the page follows.
		h.HTML = "<p>kept, not sanitised again</p>"
		if err := w.store.SaveSanitizedHTML(ctx, h); err != nil {
			t.Fatal(err)
		}
		if got := mailBox(page); got != h.HTML {
			t.Fatalf("second view shows %q, not the kept HTML", got)
		}
		// HTML kept by an older sanitiser is made again.
		h.Policy = mailHTMLPolicy - 1
		if err := w.store.SaveSanitizedHTML(ctx, h); err != nil {
			t.Fatal(err)
		}
		if got := mailBox(page); got != "<p>It <b>burns</b>.</p>" {
			t.Fatalf("view after a sanitiser change shows %q", got)
		}
		// The view with remote images is kept apart.
		mailBox(page + "?images=1")
		if kept, err := w.store.SanitizedHTML(ctx, v, []int64{d.Threads[0].ID}, true, mailHTMLPolicy); err != nil || len(kept) != 1 {
			t.Fatalf("kept for the remote-images view: %v %+v", err, kept)
		}
		// Another mailbox's agent reads nothing kept of this conversation.
		if kept, err := w.store.SanitizedHTML(ctx, helpdesk.Viewer{UserID: w.agent.ID + 1000}, []int64{d.Threads[0].ID}, false, mailHTMLPolicy); err != nil || len(kept) != 0 {
			t.Fatalf("a stranger reads kept HTML: %v %+v", err, kept)
		}
	})
}

// TestLargeMailHTMLShowsItsText: HTML above the size limit is not
// sanitised or sent; the page shows the mail's text and a link that
// downloads the HTML (as an attachment, never as a page of ours).
func TestLargeMailHTMLShowsItsText(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		w := &workspace{env: setup(t, dialect, func(c *Config) { c.MailHTMLMaxBytes = 64 << 10 })}
		w.mb1 = w.mailbox(t, 1)
		if err := w.store.SetUserMailboxes(ctx, w.agent.ID, []int64{w.mb1}); err != nil {
			t.Fatal(err)
		}
		big := "<html><body>" + strings.Repeat(`<p style="color: blue">A newsletter paragraph that goes on.</p>`, 2000) + "</body></html>"
		conv := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{
			From: helpdesk.Address{Email: "news@customer.example"}, Subject: "Big newsletter",
			Text: "The text part of the newsletter.", HTML: big,
		}).ConversationID
		d, err := w.store.Conversation(ctx, helpdesk.ViewerOf(w.admin), conv)
		if err != nil {
			t.Fatal(err)
		}
		thread := itoa(d.Threads[0].ID)

		agent := w.session(t, w.agent)
		resp, body := agent.get("/conversations/" + itoa(conv))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("page: %d", resp.StatusCode)
		}
		for _, want := range []string{"data-html-too-large", "The text part of the newsletter.", `href="/threads/` + thread + `/html"`} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if strings.Contains(body, `class="mail-html"`) || len(body) > 32<<10 {
			t.Errorf("page shows the large HTML (%d bytes)", len(body))
		}
		if kept, err := w.store.SanitizedHTML(ctx, helpdesk.ViewerOf(w.agent), []int64{d.Threads[0].ID}, false, mailHTMLPolicy); err != nil || len(kept) != 0 {
			t.Errorf("large HTML was sanitised: %v %d kept", err, len(kept))
		}

		resp, raw := agent.get("/threads/" + thread + "/html")
		h := resp.Header
		if resp.StatusCode != http.StatusOK || raw != big || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment;") ||
			h.Get("Content-Type") != "application/octet-stream" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("download: %d, %d of %d bytes, headers %v", resp.StatusCode, len(raw), len(big), h)
		}
		if err := w.store.SetUserMailboxes(ctx, w.agent.ID, nil); err != nil {
			t.Fatal(err)
		}
		if resp, _ := agent.get("/threads/" + thread + "/html"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("download by an agent without the mailbox: %d, want 404", resp.StatusCode)
		}
		if resp, _ := agent.get("/threads/x/html"); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("download of a bad id: %d, want 400", resp.StatusCode)
		}
	})
}
