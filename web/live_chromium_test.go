package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// signIn signs in through the login form and waits for the selector.
func signIn(t *testing.T, tab context.Context, base, email, password, path, waitFor string) {
	t.Helper()
	err := chromedp.Do(tab,
		chromedp.Navigate(base+path),
		chromedp.WaitVisible(`input[name=email]`),
		chromedp.SendKeys(`input[name=email]`, email),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Submit(`input[name=password]`),
		chromedp.WaitVisible(waitFor),
	)
	if err != nil {
		t.Fatalf("sign in as %s: %v", email, err)
	}
}

// waitFor polls a script expression in the tab until it is true.
func waitFor(t *testing.T, tab context.Context, what, expr string) {
	t.Helper()
	_, err := chromedp.Run(tab, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// markPage tags the tab's document; notReloaded is true while the same
// document is shown (no reload happened).
func markPage(t *testing.T, tab context.Context) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.__notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
}

const notReloaded = `window.__notReloaded === true`

// TestLivePagesInChromium: two agents in two browser contexts. The list
// shows a new conversation and its count without a reload; on an open
// conversation each sees the other viewing, then writing a reply, and the
// second writer is warned before sending; a new customer message appears
// in the open conversation without a reload. Screenshots of the page with
// presence at 1,280 and 390 px go to testdata/artifacts.
func TestLivePagesInChromium(t *testing.T) {
	t.Parallel()
	w := setupWorkspace(t, "sqlite")
	ctx := context.Background()

	agentTab, agentConsole := startBrowser(t, 1280, 900)
	signIn(t, agentTab, w.ts.URL, agentEmail, agentPassword, "/", "table#conversations")
	markPage(t, agentTab)
	created := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "dan@customer.example"}, Subject: "Arrived while you looked", Text: "Hello"})
	waitFor(t, agentTab, "the new conversation in the open list",
		fmt.Sprintf(`!!document.querySelector('tr[data-conversation="%d"]') && document.querySelector('[data-count=active]').textContent === "(3)" && %s`, created.ConversationID, notReloaded))

	adminTab, adminConsole := newBrowserContext(t, agentTab)
	conv := "/conversations/" + itoa(w.c1)
	signIn(t, adminTab, w.ts.URL, adminEmail, adminPassword, conv, "article[data-thread]")
	markPage(t, adminTab)
	if err := chromedp.Do(agentTab, chromedp.Navigate(w.ts.URL+conv), chromedp.WaitVisible("article[data-thread]")); err != nil {
		t.Fatal(err)
	}
	markPage(t, agentTab)
	waitFor(t, adminTab, "the admin sees the agent viewing",
		fmt.Sprintf(`!!document.querySelector('#presence:not([hidden]) [data-presence-user="%d"][data-typing=false]')`, w.agent.ID))

	if err := chromedp.Do(adminTab, chromedp.SendKeys(`textarea[data-reply]`, "I am on it")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, agentTab, "the agent sees the admin writing a reply",
		fmt.Sprintf(`!!document.querySelector('#presence [data-presence-user="%d"][data-typing=true]')`, w.admin.ID))
	if err := chromedp.Do(agentTab, chromedp.SendKeys(`textarea[data-reply]`, "Me too")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, agentTab, "the second writer is warned", `(() => { const e = document.getElementById("reply-warning"); return !e.hidden && e.textContent.includes("Ada Admin is also writing") })()`)
	waitFor(t, adminTab, "the admin is warned too", `!document.getElementById("reply-warning").hidden`)

	saveScreenshot(t, agentTab, "conversation-presence-1280.png")
	if err := chromedp.Do(agentTab, chromedp.EmulateViewport(390, 900)); err != nil {
		t.Fatal(err)
	}
	saveScreenshot(t, agentTab, "conversation-presence-390.png")

	// The customer answers: the open conversation shows it, typed text kept.
	d, err := w.store.Conversation(ctx, helpdesk.ViewerOf(w.admin), w.c1)
	if err != nil {
		t.Fatal(err)
	}
	answer := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "alice@customer.example"}, Subject: "Re: Printer on fire",
		InReplyTo: d.Threads[0].MessageID, Text: "Now it smokes too."})
	if answer.ConversationID != w.c1 {
		t.Fatalf("the answer went to conversation %d", answer.ConversationID)
	}
	waitFor(t, adminTab, "the new message in the open conversation",
		fmt.Sprintf(`(() => { const a = document.querySelector('article[data-thread="%d"]'); return !!a && a.textContent.includes("Now it smokes too.") && document.querySelector("textarea[data-reply]").value === "I am on it" && %s })()`, answer.ThreadID, notReloaded))
	if order, err := chromedp.Run(adminTab, chromedp.Evaluate[string](`[...document.querySelectorAll("article[data-thread]")].map(a => a.dataset.thread).join(",")`)); err != nil || !strings.HasSuffix(order, ","+itoa(answer.ThreadID)) {
		t.Fatalf("threads on the page: %q %v; want the new one last", order, err)
	}
	agentConsole(t)
	adminConsole(t)
}
