package web

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// keyTo presses keys and waits for the page they lead to: a new document
// that is loaded and for which ready (a script expression) is true.
func (a *agentTab) keyTo(keys, ready string) {
	a.t.Helper()
	a.eval(`document.documentElement.dataset.old = "1", ""`)
	a.do(chromedp.KeyEvent(keys))
	deadline := time.Now().Add(20 * time.Second)
	for {
		done, err := chromedp.Run(a.ctx, chromedp.Evaluate[bool](`!document.documentElement.dataset.old && document.readyState === "complete" && (`+ready+`)`))
		if err == nil && done {
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("pressing %q: no page where %s: %v", keys, ready, err)
		}
		if _, err := chromedp.Run(a.ctx, chromedp.Poll[bool](`document.readyState === "complete"`, chromedp.WithPollingTimeout(time.Second))); err != nil && a.ctx.Err() != nil {
			a.t.Fatal(err)
		}
	}
}

// key presses keys on the page, which stays.
func (a *agentTab) key(keys string, opts ...chromedp.KeyOption) {
	a.t.Helper()
	a.do(chromedp.KeyEvent(keys, opts...))
}

// widths saves the page at 1280, 768 and 390 px (narrower than 800 as a
// phone or tablet, with overlay scrollbars) and fails when anything is
// wider than the screen.
func (a *agentTab) widths(name string) {
	a.t.Helper()
	for _, width := range []int64{1280, 768, 390} {
		if width < 800 {
			a.do(chromedp.EmulateViewport(width, 900, chromedp.EmulateMobile))
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

const (
	markedRow  = `(document.querySelector("#conversations tr.kb-current") || {dataset: {}}).dataset.conversation || ""`
	focusedTag = `(() => { const a = document.activeElement; return a ? a.tagName + (a.name ? "[" + a.name + "]" : "") + (a.id ? "#" + a.id : "") : "" })()`
)

// TestShortcutsInChromium: on the list j and k mark the next and previous
// conversation (highlighted, its link focused) and Enter or o opens it; on the
// conversation j and k go through the list's order, r, n and a focus the
// reply, the note and the assignee, c closes through the page's form
// (refused on a stale version like the Save button), "/" searches and "?"
// opens the help dialog, which Esc closes. No key acts while the agent
// types or with a modifier. Screenshots of the list with a marked row and
// of the help at 1,280, 768 and 390 px go to testdata/artifacts.
func TestShortcutsInChromium(t *testing.T) {
	t.Parallel()
	w := setupWorkspace(t, "sqlite")
	ctx := context.Background()
	c4 := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "dan@customer.example"}, Subject: "Third of mailbox 1", Text: "Hello"}).ConversationID
	bctx, consoleErrors := startBrowser(t, 1280, 900)
	signIn(t, bctx, w.ts.URL, agentEmail, agentPassword, "/", "table#conversations")
	a := &agentTab{t: t, ctx: bctx, base: w.ts.URL}
	order := strings.Split(a.eval(`[...document.querySelectorAll("#conversations tr[data-conversation]")].map(r => r.dataset.conversation).join(",")`), ",")
	if len(order) != 3 || order[0] != itoa(c4) {
		t.Fatalf("list order %v, want 3 conversations, %d first", order, c4)
	}
	focusedLink := `(document.activeElement.closest("tr") || {dataset: {}}).dataset.conversation || ""`

	// The list: j, k, with the marked row's link focused.
	for _, step := range []struct{ key, want string }{{"j", order[0]}, {"j", order[1]}, {"j", order[2]}, {"j", order[2]}, {"k", order[1]}} {
		a.key(step.key)
		if got, focus := a.eval(markedRow), a.eval(focusedLink); got != step.want || focus != step.want {
			t.Errorf("after %s: marked %q, focus in %q; want %s", step.key, got, focus, step.want)
		}
	}
	if got := a.eval(`String(document.querySelector("#conversations tr.kb-current").getAttribute("aria-current"))`); got != "true" {
		t.Errorf("the marked row's aria-current is %s", got)
	}
	// Typing in a field and modified keys are not shortcuts.
	a.do(chromedp.Focus(`input[name=q]`))
	a.key("jk")
	if got, typed := a.eval(markedRow), a.value(`input[name=q]`); got != order[1] || typed != "jk" {
		t.Errorf("typing jk in the search box: marked %q, box holds %q", got, typed)
	}
	a.eval(`document.querySelector("input[name=q]").value = "", document.activeElement.blur(), ""`)
	a.key("j", chromedp.KeyModifiers(chromedp.ModifierAlt))
	if got := a.eval(markedRow); got != order[1] {
		t.Errorf("Alt+j moved the mark to %q", got)
	}
	a.key("/")
	if got, typed := a.eval(focusedTag), a.value(`input[name=q]`); got != "INPUT[q]" || typed != "" {
		t.Errorf("/ focused %q, the box holds %q", got, typed)
	}
	a.eval(`document.activeElement.blur(), ""`)

	// "?" opens the help: a modal dialog with its Close button focused,
	// listing every shortcut; Esc closes it and j works again.
	a.key("j")
	a.key("k") // back on order[1], its link focused
	a.key("?")
	if open, focus := a.eval(`String(document.querySelector("dialog#shortcuts-help").open)`), a.eval(`document.activeElement.closest("dialog") ? document.activeElement.textContent : ""`); open != "true" || focus != "Close" {
		t.Fatalf("? shows the help: open %s, focus on %q", open, focus)
	}
	help := a.text(`dialog#shortcuts-help`)
	for _, want := range []string{"next conversation", "previous conversation", "open the marked conversation", "write a reply", "write a note", "choose the assignee", "close the conversation", "search", "this help"} {
		if !strings.Contains(help, want) {
			t.Errorf("the help lacks %q: %s", want, help)
		}
	}
	a.key("j")
	if got := a.eval(markedRow); got != order[1] {
		t.Errorf("j behind the open help moved the mark to %q", got)
	}
	a.widths("shortcuts-help")
	a.key(kb.Escape)
	if open, focus := a.eval(`String(document.querySelector("dialog#shortcuts-help").open)`), a.eval(focusedLink); open != "false" || focus != order[1] {
		t.Errorf("Esc: help open %s, focus back in %q, want %s", open, focus, order[1])
	}
	a.widths("shortcuts-list")

	// Enter opens the marked conversation; there j and k follow the list.
	onConv := func(id string) string { return `!!document.querySelector('[data-live-conversation="` + id + `"]')` }
	a.keyTo(kb.Enter, onConv(order[1]))
	a.keyTo("j", onConv(order[2]))
	a.key("j") // the last of the list: stays
	a.keyTo("k", onConv(order[1]))
	a.keyTo("k", onConv(order[0]))

	// "/" on a conversation: the list it came from, its search focused.
	a.keyTo("/", `!!document.getElementById("conversations")`)
	if got := a.eval(focusedTag); got != "INPUT[q]" {
		t.Errorf("/ on a conversation: focus on %q, want the list's search", got)
	}
	// Back on the list, the conversation just left is marked; o opens it.
	a.eval(`document.activeElement.blur(), ""`)
	if got := a.eval(markedRow); got != order[0] {
		t.Errorf("back on the list, %q is marked; want %s, the one just left", got, order[0])
	}
	a.keyTo("o", onConv(order[0]))

	// r, n, a focus their fields without typing the key; typed keys then
	// go into the field, not to the shortcuts.
	for _, step := range []struct{ key, want string }{{"r", "TEXTAREA[body]"}, {"n", "TEXTAREA[note]"}, {"a", "SELECT[assignee]#assignee"}} {
		a.eval(`document.activeElement.blur(), ""`)
		a.key(step.key)
		if got := a.eval(focusedTag); got != step.want {
			t.Errorf("%s focused %q, want %s", step.key, got, step.want)
		}
	}
	a.eval(`document.activeElement.blur(), ""`)
	a.key("r")
	a.key("cj")
	if got := a.value(`textarea[name=body]`); got != "cj" {
		t.Errorf("the reply box holds %q after r, c, j; want cj", got)
	}
	if !strings.Contains(a.eval(`location.pathname`), "/conversations/"+order[0]) {
		t.Fatalf("typing c and j in the reply left the conversation: %s", a.eval(`location.href`))
	}

	// c closes through the page's form: on a stale page it is refused
	// with what changed and the typed reply kept; then it closes.
	id := helpdesk.ViewerOf(w.admin)
	first, _ := strconv.ParseInt(order[0], 10, 64)
	conv, err := w.store.Conversation(ctx, id, first)
	if err != nil {
		t.Fatal(err)
	}
	pending := helpdesk.StatusPending
	if err := w.store.UpdateConversation(ctx, id, conv.ID, helpdesk.ConversationChange{Status: &pending, Seen: conv.Version}); err != nil {
		t.Fatal(err)
	}
	a.eval(`document.activeElement.blur(), ""`)
	a.keyTo("c", `!!document.getElementById("conversation-form")`)
	if a.eval(`String(!!document.getElementById("conflict"))`) != "true" || a.value(`textarea[name=body]`) != "cj" {
		t.Errorf("c on a stale page: conflict shown %s, reply %q", a.eval(`String(!!document.getElementById("conflict"))`), a.value(`textarea[name=body]`))
	}
	if d, _ := w.store.Conversation(ctx, id, conv.ID); d.Status != helpdesk.StatusPending {
		t.Errorf("a refused c set the status to %s", d.Status)
	}
	a.eval(`document.querySelector("textarea[name=body]").value = "", document.activeElement.blur(), ""`)
	a.keyTo("c", `!!document.getElementById("conversation-form") && !document.getElementById("conflict")`)
	if d, _ := w.store.Conversation(ctx, id, conv.ID); d.Status != helpdesk.StatusClosed {
		t.Errorf("after c the status is %s, want closed", d.Status)
	}

	consoleErrors(t)
}
