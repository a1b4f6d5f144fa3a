package web

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// layoutWidths are the screens the pages must fit: a phone, a tablet, a
// laptop.
var layoutWidths = []int{390, 768, 1280}

// TestLayoutInChromium: the list, a conversation that tries hard to be
// wide (an unbroken 300-letter word, an Arabic subject, a note, a
// plain-text mail with links, a mail's own Date), its customer's page and the status page with
// many mailboxes fit 390, 768 and 1,280 px without sideways scrolling.
// Screenshots of each go to testdata/artifacts.
func TestLayoutInChromium(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := &workspace{env: setup(t, "sqlite")}
	seedFleet(t, w.env, 30, true)
	long := w.mailbox(t, 100)
	w.fetched(t, long, errors.New("imap: login: NO [AUTHENTICATIONFAILED] "+strings.Repeat("Authentication-failed-for-this-very-long-account-name-", 4)))
	fleet := w.local.Fleet()
	if err := fleet.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fleet.Stop)

	word := strings.Repeat("Supercalifragilistic", 15)
	conv := w.ingest(t, long, &helpdesk.IncomingMessage{
		From:    helpdesk.Address{Name: "Carol Customer", Email: "carol@customer.example"},
		Subject: "Broken " + word,
		Date:    time.Date(2026, 3, 1, 9, 30, 0, 0, time.FixedZone("", 2*3600)),
		Text:    "Hello,\n\nthe page https://shop.example/orders/4711?x=1&y=2 says " + word + ".\nWrite to mailto:carol@customer.example, thanks.\n",
	}).ConversationID
	arabic := w.ingest(t, long, &helpdesk.IncomingMessage{
		From:    helpdesk.Address{Name: "سلمى", Email: "salma@customer.example"},
		Subject: "مشكلة في الطلب رقم 4711",
		Text:    "مرحبا، لم يصل الطلب بعد.",
	}).ConversationID
	if _, err := w.store.AddNote(ctx, helpdesk.ViewerOf(w.admin), conv, "Internal: checked stock, "+word, 0); err != nil {
		t.Fatal(err)
	}

	bctx, consoleErrors := startBrowser(t, 1280, 900)
	if err := chromedp.Do(bctx,
		chromedp.Navigate(w.ts.URL+"/login"),
		chromedp.WaitVisible(`input[name=email]`),
		chromedp.SendKeys(`input[name=email]`, adminEmail),
		chromedp.SendKeys(`input[name=password]`, adminPassword),
		chromedp.Submit(`input[name=password]`),
		chromedp.WaitVisible(`header.top`),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	pages := []struct{ name, path, ready string }{
		{"list", "/", `tr[data-conversation]`},
		{"conversation", fmt.Sprintf("/conversations/%d", conv), `.thread-note`},
		{"conversation-rtl", fmt.Sprintf("/conversations/%d", arabic), `.thread`},
		{"customer", fmt.Sprintf("/customers/%d", w.customerOf(t, conv)), `#customer-conversations`},
		{"status", "/admin/status", `tr[data-mailbox]`},
	}
	for _, width := range layoutWidths {
		viewport := chromedp.EmulateViewport(int64(width), 900) // a laptop's window
		if width < 1280 {
			viewport = chromedp.EmulateViewport(int64(width), 900, chromedp.EmulateMobile) // overlay scrollbars, as a phone or tablet
		}
		if err := chromedp.Do(bctx, viewport); err != nil {
			t.Fatal(err)
		}
		for _, p := range pages {
			if err := chromedp.Do(bctx, chromedp.Navigate(w.ts.URL+p.path), chromedp.WaitVisible(p.ready)); err != nil {
				t.Fatalf("%s at %d px: %v", p.name, width, err)
			}
			got, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify({
				overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
				width: window.innerWidth })`))
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf(`{"overflow":0,"width":%d}`, width); got != want {
				t.Errorf("%s at %d px: %s, want %s", p.name, width, got, want)
			}
			saveScreenshot(t, bctx, fmt.Sprintf("layout-%s-%d.png", p.name, width))
		}
	}

	// The conversation: a note does not look like a customer's mail; the
	// plain text is in the page's font with its links clickable; the mail's
	// Date is shown beside the time it was received.
	if err := chromedp.Do(bctx, chromedp.Navigate(fmt.Sprintf("%s/conversations/%d", w.ts.URL, conv)), chromedp.WaitVisible(`.thread-note`)); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify({
		noteLooksDifferent: getComputedStyle(document.querySelector(".thread-note")).backgroundColor !== getComputedStyle(document.querySelector(".thread-customer")).backgroundColor,
		proportional: getComputedStyle(document.querySelector(".thread-customer .mail-text")).fontFamily === getComputedStyle(document.body).fontFamily,
		links: [...document.querySelectorAll(".thread-customer .mail-text a")].map(a => a.getAttribute("href") + " " + a.rel),
		mailDate: document.querySelector("[data-field=mail-date]").getAttribute("datetime"),
	})`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"noteLooksDifferent":true,"proportional":true,` +
		`"links":["https://shop.example/orders/4711?x=1&y=2 noopener nofollow","mailto:carol@customer.example noopener nofollow"],` +
		`"mailDate":"2026-03-01T07:30:00Z"}`
	if got != want {
		t.Errorf("conversation shows %s, want %s", got, want)
	}

	// The Arabic subject is isolated: "#N" stays after it, on the right.
	if err := chromedp.Do(bctx, chromedp.Navigate(fmt.Sprintf("%s/conversations/%d", w.ts.URL, arabic)), chromedp.WaitVisible(`h1`)); err != nil {
		t.Fatal(err)
	}
	got, err = chromedp.Run(bctx, chromedp.Evaluate[string](`(() => {
		const s = document.querySelector("h1 bdi").getBoundingClientRect(), n = document.querySelector("h1 .muted").getBoundingClientRect();
		return JSON.stringify({ badgeAfterSubject: n.left >= s.right - 1 });
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if got != `{"badgeAfterSubject":true}` {
		t.Errorf("Arabic subject: %s", got)
	}
	consoleErrors(t)
}
