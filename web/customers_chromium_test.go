package web

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// TestCustomerPagesInChromium: the customer page and a conversation with
// the customer's other conversations beside it (at 1,280 px) or above it
// (at 390 px), neither wider than the screen. Screenshots go to
// testdata/artifacts. Enter in the merge box merges.
func TestCustomerPagesInChromium(t *testing.T) {
	t.Parallel()
	w := setupWorkspace(t, "sqlite")
	second, _ := w.alicesHistory(t)
	for i := range 3 {
		w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Name: "Alice", Email: "alice@customer.example"},
			Subject: fmt.Sprintf("Follow-up number %d about the printer that keeps jamming on page two", i+1), Text: "Again."})
	}
	bctx, consoleErrors := startBrowser(t, 1280, 900)
	if err := chromedp.Do(bctx,
		chromedp.Navigate(w.ts.URL+"/"),
		chromedp.WaitVisible(`input[name=email]`),
		chromedp.SendKeys(`input[name=email]`, agentEmail),
		chromedp.SendKeys(`input[name=password]`, agentPassword),
		chromedp.Submit(`input[name=password]`),
		chromedp.WaitVisible(`#conversations`),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	fits := func(page string, width int) {
		t.Helper()
		if got := eval(`String(document.documentElement.scrollWidth - document.documentElement.clientWidth)`); got != "0" {
			t.Errorf("%s at %d px is %s px wider than the screen", page, width, got)
		}
	}
	visit := func(path, waitFor string) {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Navigate(w.ts.URL+path), chromedp.WaitVisible(waitFor)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	// Where the sidebar is: right of the conversation, or above it.
	sidePlace := `(() => { const s = document.getElementById('customer-side').getBoundingClientRect(),
		m = document.querySelector('.main-col').getBoundingClientRect();
		return s.left >= m.right ? 'beside' : s.bottom <= m.top ? 'above' : 'overlapping'; })()`

	for _, width := range []int{1280, 390} {
		opts := []chromedp.EmulateViewportOption{}
		if width < 500 {
			opts = append(opts, chromedp.EmulateMobile)
		}
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(int64(width), 900, opts...)); err != nil {
			t.Fatal(err)
		}
		visit("/customers/"+itoa(w.customerOf(t, w.c1)), `#customer-conversations`)
		if got := eval(`String(document.querySelectorAll('#customer-conversations tr[data-conversation]').length)`); got != "5" {
			t.Errorf("customer page lists %s conversations, want 5", got)
		}
		fits("customer page", width)
		saveScreenshot(t, bctx, fmt.Sprintf("customer-%d.png", width))

		visit("/conversations/"+itoa(second), `#customer-side`)
		want := map[int]string{1280: "beside", 390: "above"}[width]
		if got := eval(sidePlace); got != want {
			t.Errorf("sidebar at %d px: %s, want %s", width, got, want)
		}
		if got := eval(`String(document.querySelectorAll('#customer-side [data-other]').length)`); got != "4" {
			t.Errorf("sidebar lists %s other conversations, want 4", got)
		}
		fits("conversation page", width)
		saveScreenshot(t, bctx, fmt.Sprintf("conversation-sidebar-%d.png", width))
	}
	consoleErrors(t)

	// Enter in the merge box merges (not the form's first button, Tag),
	// and the merged page leads to the target. (The old page's last
	// presence beat may meet the merged conversation: 404, after the
	// console check.)
	if err := chromedp.Do(bctx, chromedp.SendKeys(`#merge-into`, itoa(w.c1)+kb.Enter)); err != nil {
		t.Fatalf("merge by Enter: %v", err)
	}
	wctx, cancel := context.WithTimeout(bctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitVisible(`p.notice`)); err != nil {
		t.Fatalf("merge by Enter: %v; at %s: %s", err, eval(`location.href`), eval(`document.body.innerText.slice(0, 900)`))
	}
	if got := eval(`location.pathname`); got != "/conversations/"+itoa(w.c1) {
		t.Errorf("after the merge the browser is at %s", got)
	}
	if got := eval(`String(document.querySelectorAll('#customer-side [data-other]').length)`); got != "3" {
		t.Errorf("sidebar after the merge lists %s other conversations, want 3", got)
	}
}
