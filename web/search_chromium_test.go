package web

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// TestSearchInChromium: at 1,280 and 390 px a search marks the matches in
// the list without sideways scrolling, and a search that cannot run shows
// its message under the box with the typed text kept. Screenshots go to
// testdata/artifacts.
func TestSearchInChromium(t *testing.T) {
	t.Parallel()
	w := setupWorkspace(t, "sqlite")
	w.ingest(t, w.mb1, &helpdesk.IncomingMessage{
		From: helpdesk.Address{Name: "Jürgen Müller", Email: "jm@kunde.example"}, Subject: "Rechnung für Müller GmbH fehlt",
		Text: "Sehr geehrte Damen und Herren, die Rechnung an Müller ist nicht angekommen.",
	})
	w.ingest(t, w.mb1, &helpdesk.IncomingMessage{
		From: helpdesk.Address{Email: "anna@kunde.example"}, Subject: "Lieferung verspätet",
		Text: "Herr Mueller hat heute angerufen, wegen der Lieferung.",
	})
	for _, width := range []int{1280, 390} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			bctx, consoleErrors := startBrowser(t, width, 900)
			if width < 1280 { // overlay scrollbars, as on a phone (see layoutWidths)
				if err := chromedp.Do(bctx, chromedp.EmulateViewport(int64(width), 900, chromedp.EmulateMobile)); err != nil {
					t.Fatal(err)
				}
			}
			err := chromedp.Do(bctx,
				chromedp.Navigate(w.ts.URL+"/?status=all&q="+url.QueryEscape("müller")),
				chromedp.WaitVisible(`input[name=email]`),
				chromedp.SendKeys(`input[name=email]`, adminEmail),
				chromedp.SendKeys(`input[name=password]`, adminPassword),
				chromedp.Submit(`input[name=password]`),
				chromedp.WaitVisible(`#conversations mark`),
			)
			if err != nil {
				t.Fatalf("browser: %v", err)
			}
			marks, err := chromedp.Run(bctx, chromedp.Evaluate[string](
				`[...document.querySelectorAll("#conversations mark")].map(m => m.textContent).join(",")`))
			if err != nil || marks != "Müller,Müller,Mueller" {
				t.Errorf("marked %q (%v), want Müller,Müller,Mueller", marks, err)
			}
			overflow, err := chromedp.Run(bctx, chromedp.Evaluate[int](
				`document.documentElement.scrollWidth - document.documentElement.clientWidth`))
			if err != nil || overflow > 0 {
				t.Errorf("sideways scroll of %d px (%v)", overflow, err)
			}
			saveScreenshot(t, bctx, fmt.Sprintf("search-highlight-%d.png", width))

			long := strings.Repeat("Rechnung ", 28)
			consoleErrors(t) // before the 422, which the console logs
			err = chromedp.Do(bctx,
				chromedp.Navigate(w.ts.URL+"/?status=all&q="+url.QueryEscape(long)),
				chromedp.WaitVisible(`[data-field-error=q]`),
			)
			if err != nil {
				t.Fatalf("browser: %v", err)
			}
			typed, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("input[name=q]").value`))
			if err != nil || typed != long {
				t.Errorf("search box holds %q (%v)", typed, err)
			}
			saveScreenshot(t, bctx, fmt.Sprintf("search-too-long-%d.png", width))
		})
	}
}
