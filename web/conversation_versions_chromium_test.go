package web

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/notifier"
	"github.com/helpdesk/helpdesk/internal/testserver"
)

// agentTab is one agent's browser (its own cookies) on the conversation page.
type agentTab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// openAs signs a tab in as u (a session cookie, as after the login form)
// in a browser context of its own and opens path.
func openAs(t *testing.T, w *workspace, bctx context.Context, u *helpdesk.User, path string, own bool) *agentTab {
	t.Helper()
	ctx := bctx
	if own {
		var cancel context.CancelFunc
		ctx, cancel = chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
	}
	token, _, err := w.store.CreateSession(context.Background(), u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: sessionCookie, Value: token, URL: w.ts.URL, Path: "/"})
			return err
		}),
		chromedp.Navigate(w.ts.URL+path),
		chromedp.WaitVisible(`#conversation-form`),
	)
	if err != nil {
		t.Fatalf("open %s as %s: %v", path, u.Email, err)
	}
	return &agentTab{t: t, ctx: ctx, base: w.ts.URL}
}

func (a *agentTab) eval(js string) string {
	a.t.Helper()
	v, err := chromedp.Run(a.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		a.t.Fatalf("%s: %v", js, err)
	}
	return v
}

func (a *agentTab) do(actions ...chromedp.Action[chromedp.Void]) {
	a.t.Helper()
	if err := chromedp.Do(a.ctx, actions...); err != nil {
		a.t.Fatal(err)
	}
}

// press clicks a button and waits for the page the form's answer is.
func (a *agentTab) press(button string) {
	a.t.Helper()
	a.submitBy(chromedp.Click(button), button)
}

// submitBy sends the form by an action and waits for the answer's page.
func (a *agentTab) submitBy(action chromedp.Action[chromedp.Void], button string) {
	a.t.Helper()
	a.eval(`document.documentElement.dataset.old = "1", ""`)
	a.do(action)
	// Evaluations fail while the page is navigating: ask again until the
	// new page is there.
	deadline := time.Now().Add(20 * time.Second)
	for {
		done, err := chromedp.Run(a.ctx, chromedp.Evaluate[bool](`!document.documentElement.dataset.old && document.readyState === "complete" && !!document.getElementById("conversation-form")`))
		if err == nil && done {
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("no new page after pressing %s: %v", button, err)
		}
		if _, err := chromedp.Run(a.ctx, chromedp.Poll[bool](`document.readyState === "complete"`, chromedp.WithPollingTimeout(time.Second))); err != nil && a.ctx.Err() != nil {
			a.t.Fatal(err)
		}
	}
}

func (a *agentTab) text(sel string) string {
	a.t.Helper()
	return a.eval(fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent.trim()`, sel))
}

func (a *agentTab) value(sel string) string {
	a.t.Helper()
	return a.eval(fmt.Sprintf(`document.querySelector(%q).value`, sel))
}

// screenshots saves the page at 1280 and at 390 px (as a phone) and fails
// when anything is wider than the screen.
func (a *agentTab) screenshots(name string) {
	a.t.Helper()
	for _, width := range []int64{1280, 390} {
		if width < 760 {
			a.do(chromedp.EmulateViewport(width, 900, chromedp.EmulateMobile)) // overlay scrollbars, as a phone
		} else {
			a.do(chromedp.EmulateViewport(width, 900))
		}
		if over := a.eval(`String(document.documentElement.scrollWidth - document.documentElement.clientWidth)`); over != "0" {
			a.t.Errorf("%s at %d px: %s px wider than the screen", name, width, over)
		}
		saveScreenshot(a.t, a.ctx, fmt.Sprintf("%s-%d.png", name, width))
	}
	a.do(chromedp.EmulateViewport(1280, 900))
}

// TestConversationConflictsInChromium: the admin and an agent work on the
// same conversation in two browsers. A change or a reply made on the
// older page is refused and shown with what changed and by whom; what the
// agent typed stays in the page, and neither refusal writes anything.
func TestConversationConflictsInChromium(t *testing.T) {
	t.Parallel()
	w := setupWorkspace(t, "sqlite")
	ctx := context.Background()
	bctx, consoleErrors := startBrowser(t, 1280, 900)
	path := "/conversations/" + itoa(w.c1)
	agent := openAs(t, w, bctx, w.agent, path, false)
	admin := openAs(t, w, bctx, w.admin, path, true)
	conv := func() *helpdesk.ConversationDetail {
		d, err := w.store.Conversation(ctx, helpdesk.Viewer{Admin: true}, w.c1)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	// Lost update: the admin closes #1; the agent, on the older page,
	// sets the assignee with a reply half typed.
	admin.do(chromedp.SetValue(`#status`, "closed"))
	admin.press(`#conversation-form button:not([formaction]), button[form=conversation-form]:not([formaction])`)
	agent.do(
		chromedp.SendKeys(`textarea[name=body]`, "Half-written answer"),
		chromedp.SetValue(`#assignee`, itoa(w.agent.ID)),
	)
	agent.press(`button[form=conversation-form]:not([formaction])`)
	if got := agent.text(`#conflict`); !strings.Contains(got, "Nothing was saved") || !strings.Contains(got, "Ada Admin set the status to closed.") {
		t.Errorf("conflict shown: %q", got)
	}
	if got := agent.value(`textarea[name=body]`); got != "Half-written answer" {
		t.Errorf("typed reply after the conflict: %q", got)
	}
	if d := conv(); d.Status != "closed" || d.AssigneeID != nil {
		t.Errorf("refused change wrote: status %s assignee %v", d.Status, d.AssigneeID)
	}
	agent.screenshots("conversation-conflict")
	// Having seen it, the agent saves again: the assignee goes in, the
	// reply text stays.
	agent.do(chromedp.SetValue(`#assignee`, itoa(w.agent.ID)))
	agent.press(`button[form=conversation-form]:not([formaction])`)
	if d := conv(); d.Status != "closed" || d.AssigneeID == nil || *d.AssigneeID != w.agent.ID {
		t.Errorf("after saving again: status %s assignee %v", d.Status, d.AssigneeID)
	}
	if got, notice := agent.value(`textarea[name=body]`), agent.text(`p.notice`); got != "Half-written answer" || notice != "Changes saved." {
		t.Errorf("after saving: reply %q, notice %q", got, notice)
	}

	// Double answer: the admin answers first; the agent's reply on the
	// older page is refused, and the admin's reply is on the page to read.
	admin.do(chromedp.Reload(), chromedp.WaitVisible(`#conversation-form`), chromedp.SendKeys(`textarea[name=body]`, "The admin's answer"))
	admin.press(`button[name=then][value=pending]`)
	if notice := admin.text(`p.notice`); !strings.HasPrefix(notice, "Reply queued") {
		t.Errorf("admin's notice after sending: %q", notice)
	}
	agent.press(`button[name=then][value=pending]`)
	if got := agent.text(`#conflict`); !strings.Contains(got, "Ada Admin replied") {
		t.Errorf("double answer shown: %q", got)
	}
	if got := agent.value(`textarea[name=body]`); got != "Half-written answer" {
		t.Errorf("typed reply after the refused send: %q", got)
	}
	if !strings.Contains(agent.text(`article.thread-reply:last-of-type`), "The admin's answer") {
		t.Errorf("the admin's reply is not on the agent's page")
	}
	if n := len(conv().Threads); n != 2 {
		t.Errorf("%d threads after a refused reply, want 2", n)
	}
	// Read: the agent sends and closes.
	agent.press(`button[name=then][value=closed]`)
	d := conv()
	if last := d.Threads[len(d.Threads)-1]; last.BodyText != "Half-written answer" || d.Status != "closed" {
		t.Errorf("agent's reply: %q, status %s", last.BodyText, d.Status)
	}
	if got := agent.value(`textarea[name=body]`); got != "" {
		t.Errorf("reply box after sending: %q", got)
	}
	if got := agent.text(`article.thread-reply:last-of-type [data-delivery]`); got != "queued, not sent yet" {
		t.Errorf("delivery shown: %q", got)
	}

	// A failed save keeps what was typed: a tag with a comma, a reply of
	// spaces.
	agent.do(chromedp.SendKeys(`input[name=tag]`, "a,b"), chromedp.SendKeys(`textarea[name=note]`, "Keep this note"))
	agent.press(`button[formaction$="/tags"]`)
	if got := agent.text(`#tag-error`); got == "" || agent.value(`input[name=tag]`) != "a,b" || agent.value(`textarea[name=note]`) != "Keep this note" {
		t.Errorf("bad tag: error %q, tag %q, note %q", got, agent.value(`input[name=tag]`), agent.value(`textarea[name=note]`))
	}
	agent.do(chromedp.SendKeys(`textarea[name=body]`, "   "))
	agent.press(`button[name=then][value=pending]`)
	if got := agent.text(`#reply-error`); got == "" || agent.value(`textarea[name=note]`) != "Keep this note" || agent.value(`input[name=tag]`) != "a,b" {
		t.Errorf("blank reply: error %q, note %q", got, agent.value(`textarea[name=note]`))
	}
	if strings.Contains(agent.text(`main`), "Back to the start page") {
		t.Errorf("a refused form is a dead end")
	}
	// Enter in the tag box adds the tag (the Tag button is the form's
	// first), and the note stays.
	agent.eval(`document.querySelector("input[name=tag]").value = ""`)
	agent.submitBy(chromedp.SendKeys(`input[name=tag]`, "vip"+kb.Enter), "Enter")
	if tags := conv().Tags; len(tags) != 1 || tags[0] != "vip" || agent.value(`textarea[name=note]`) != "Keep this note" {
		t.Errorf("Enter in the tag box: tags %v, note %q", tags, agent.value(`textarea[name=note]`))
	}
	consoleErrors(t)
}

// TestReplyDeliveryInChromium: a reply shows queued, then sent with its
// time once a real SMTP server accepted it; a failed reply shows why, and
// the agent retries it from the page until it is sent.
func TestReplyDeliveryInChromium(t *testing.T) {
	t.Parallel()
	w := setupWorkspace(t, "sqlite")
	ctx := context.Background()
	sink := testserver.StartSMTP(t)
	bctx, consoleErrors := startBrowser(t, 1280, 900)
	path := "/conversations/" + itoa(w.c1)
	agent := openAs(t, w, bctx, w.agent, path, false)
	delivery := func(threadID int64) string {
		d, err := w.store.Conversation(ctx, helpdesk.ViewerOf(w.agent), w.c1)
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range d.Threads {
			if th.ID == threadID && th.Delivery != nil {
				return th.Delivery.Status
			}
		}
		return ""
	}
	// waitDelivery waits for the notifier to bring a reply to a state.
	waitDelivery := func(threadID int64, want string) {
		t.Helper()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		timeout := time.After(30 * time.Second)
		for delivery(threadID) != want {
			select {
			case <-tick.C:
			case <-timeout:
				t.Fatalf("reply %d is %q, want %s", threadID, delivery(threadID), want)
			}
		}
	}
	send := func(text string) int64 {
		t.Helper()
		agent.do(chromedp.SendKeys(`textarea[name=body]`, text))
		agent.press(`button[name=then][value=pending]`)
		id := agent.eval(`document.querySelector("article.thread-reply:last-of-type").dataset.thread`)
		var n int64
		fmt.Sscan(id, &n)
		return n
	}
	startNotifier := func() func() {
		n := notifier.New(w.store, notifier.Config{SMTPURL: sink.URL(), PollEvery: 20 * time.Millisecond,
			RetryBase: time.Hour, MaxAttempts: 1})
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return n.Stop
	}

	sent := send("This one goes out.")
	if agent.text(`[data-thread="`+itoa(sent)+`"] [data-delivery]`) != "queued, not sent yet" {
		t.Errorf("a new reply is not shown queued")
	}
	stop := startNotifier()
	waitDelivery(sent, helpdesk.DeliverySent)
	sink.FailRate(1) // 451 to every mail; one attempt only: failed
	failed := send("This one fails.")
	waitDelivery(failed, helpdesk.DeliveryFailed)
	stop()
	queued := send("This one waits.")

	agent.do(chromedp.Reload(), chromedp.WaitVisible(`#conversation-form`))
	state := func(id int64) string { return agent.text(`[data-thread="` + itoa(id) + `"] [data-delivery]`) }
	if got := state(sent); !regexp.MustCompile(`^sent .*20\d\d \d\d:\d\d`).MatchString(got) {
		t.Errorf("sent reply shows %q", got)
	}
	if got := state(failed); !strings.HasPrefix(got, "not delivered: ") || !strings.Contains(got, "451") {
		t.Errorf("failed reply shows %q", got)
	}
	if got := state(queued); got != "queued, not sent yet" {
		t.Errorf("queued reply shows %q", got)
	}
	if n := agent.eval(`String(document.querySelectorAll("[data-retry]").length)`); n != "1" {
		t.Errorf("%s retry buttons, want 1 (the failed reply's)", n)
	}
	agent.screenshots("conversation-delivery")

	// The agent retries the failed reply; the server takes it now.
	sink.FailRate(0)
	agent.do(chromedp.SendKeys(`textarea[name=note]`, "typed while retrying"))
	agent.press(`[data-retry="` + itoa(failed) + `"]`)
	if got := state(failed); got != "queued, not sent yet" || agent.value(`textarea[name=note]`) != "typed while retrying" {
		t.Errorf("after retry: %q, note %q", got, agent.value(`textarea[name=note]`))
	}
	defer startNotifier()()
	waitDelivery(failed, helpdesk.DeliverySent)
	waitDelivery(queued, helpdesk.DeliverySent)
	want := map[string]bool{"This one goes out.": true, "This one fails.": true, "This one waits.": true}
	for _, m := range sink.WaitMessages(t, 3, 30*time.Second) {
		for body := range want {
			if strings.Contains(string(m.Data), body) {
				delete(want, body)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("not received by the SMTP server: %v", want)
	}
	consoleErrors(t)
}
