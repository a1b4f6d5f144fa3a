package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// shotsAtLayoutWidths saves the page in ctx at 390, 768 and 1,280 px and
// fails when it is wider than the screen at any of them.
func shotsAtLayoutWidths(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	for _, width := range layoutWidths {
		viewport := chromedp.EmulateViewport(int64(width), 900)
		if width < 1280 {
			viewport = chromedp.EmulateViewport(int64(width), 900, chromedp.EmulateMobile)
		}
		if err := chromedp.Do(ctx, viewport); err != nil {
			t.Fatal(err)
		}
		over, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - document.documentElement.clientWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if over != 0 {
			t.Errorf("%s at %d px: %d px wider than the screen", name, width, over)
		}
		saveScreenshot(t, ctx, fmt.Sprintf("%s-%d.png", name, width))
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
}

// TestComposerInChromium: the agent's draft is saved as they type and is
// back after a reload; a saved reply goes in at the cursor without
// leaving the page; the signature is shown under the box; sending deletes
// the draft and the reply carries the signature. The admin's saved
// replies page and the composer fit 390, 768 and 1,280 px.
func TestComposerInChromium(t *testing.T) {
	t.Parallel()
	w := setupWorkspace(t, "sqlite")
	ctx := context.Background()
	in := mailboxInput(1)
	in.Signature = "Kind regards,\n{{agent}}, {{mailbox}}"
	if err := w.store.UpdateMailbox(ctx, w.mb1, in); err != nil {
		t.Fatal(err)
	}
	greeting, err := w.store.CreateSavedReply(ctx, helpdesk.SavedReplyInput{Name: "Greeting", Body: "Hello Alice,\n\n"})
	if err != nil {
		t.Fatal(err)
	}
	mb1 := w.mb1
	if _, err := w.store.CreateSavedReply(ctx, helpdesk.SavedReplyInput{Name: "Printer fire: first steps", Body: "Unplug the printer first.", MailboxID: &mb1}); err != nil {
		t.Fatal(err)
	}
	draft := func() string {
		d, err := w.store.Draft(ctx, helpdesk.ViewerOf(w.agent), w.c1)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	bctx, consoleErrors := startBrowser(t, 1280, 900)
	agent := openAs(t, w, bctx, w.agent, "/conversations/"+itoa(w.c1), false)
	if got := agent.text(`#signature-preview .mail-text`); got != "-- \nKind regards,\nAggie Agent, Support 1" {
		t.Errorf("signature preview %q", got)
	}
	waitSaved := func(want string) {
		t.Helper()
		if _, err := chromedp.Run(agent.ctx, chromedp.Poll[bool](`document.getElementById("draft-state").textContent === "Draft saved."`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("draft not saved: %v", err)
		}
		if got := draft(); got != want {
			t.Fatalf("stored draft %q, want %q", got, want)
		}
	}

	// Typing saves the draft.
	agent.do(chromedp.SendKeys(`textarea[name=body]`, "thanks for the photo."))
	waitSaved("thanks for the photo.")

	// A saved reply goes in at the cursor (here the start), on this page.
	agent.eval(`document.documentElement.dataset.same = "1", document.getElementById("draft-state").textContent = "", document.querySelector("textarea[name=body]").setSelectionRange(0, 0), ""`)
	agent.do(chromedp.SetValue(`#saved-reply`, itoa(greeting)), chromedp.Click(`#insert-saved-reply`))
	want := "Hello Alice,\n\nthanks for the photo."
	if got := agent.value(`textarea[name=body]`); got != want {
		t.Errorf("after Insert the reply is %q, want %q", got, want)
	}
	if agent.eval(`document.documentElement.dataset.same || ""`) != "1" {
		t.Error("Insert left the page")
	}
	waitSaved(want)
	shotsAtLayoutWidths(t, agent.ctx, "composer")

	// After a reload the draft is back.
	agent.do(chromedp.Reload(), chromedp.WaitVisible(`#conversation-form`))
	if got := agent.value(`textarea[name=body]`); got != want {
		t.Errorf("after reload the reply box holds %q, want %q", got, want)
	}
	if got := agent.text(`#draft-state`); got != "Your unsent draft is restored." {
		t.Errorf("draft state %q", got)
	}

	// Sending deletes it, and the reply carries the signature (shown as
	// the mail's HTML, rendered from the text).
	agent.press(`button[name=then][value=pending]`)
	if got := agent.value(`textarea[name=body]`); got != "" {
		t.Errorf("after sending the reply box holds %q", got)
	}
	if got := agent.text(`article.thread-reply:last-of-type .mail-html`); !strings.HasSuffix(got, "--\nKind regards,\nAggie Agent, Support 1") ||
		!strings.HasPrefix(got, "Hello Alice,") {
		t.Errorf("sent reply shows %q", got)
	}
	agent.do(chromedp.Reload(), chromedp.WaitVisible(`#conversation-form`))
	if d := draft(); d != "" || agent.value(`textarea[name=body]`) != "" {
		t.Errorf("after sending and a reload: draft %q, box %q", d, agent.value(`textarea[name=body]`))
	}
	consoleErrors(t)

	// The admin's page of saved replies.
	actx, adminConsole := newBrowserContext(t, bctx)
	token, _, err := w.store.CreateSession(ctx, w.admin.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(actx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: sessionCookie, Value: token, URL: w.ts.URL, Path: "/"})
			return err
		}),
		chromedp.Navigate(w.ts.URL+"/admin/saved-replies"),
		chromedp.WaitVisible(`#saved-replies`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := chromedp.Run(actx, chromedp.Evaluate[int](`document.querySelectorAll("tr[data-saved-reply]").length`)); err != nil || n != 2 {
		t.Errorf("%d saved replies listed (%v), want 2", n, err)
	}
	shotsAtLayoutWidths(t, actx, "admin-saved-replies")
	adminConsole(t)
}
