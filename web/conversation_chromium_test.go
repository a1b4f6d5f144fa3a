package web

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// formattedMail is a customer's HTML mail as mail programs write it:
// inline styles, a layout table, attributes of mail written before CSS,
// a quote.
const formattedMail = `<html><head><style>p { color: green }</style></head><body>
<p style="color: #cc0000; font-weight: bold">Your order 4711 is confirmed</p>
<p style="font-style: italic; text-align: center">Thank you for shopping with us.</p>
<table style="table-layout: fixed; width: 100%; border-collapse: collapse; border: 1px solid #999999">
<tr><th style="background-color: #eeeeee; text-align: left; padding: 4px">Item</th><th style="background-color: #eeeeee; text-align: right; padding: 4px">Price</th></tr>
<tr><td style="padding: 4px; border-top: 1px solid #dddddd">2 chairs, oak, with cushions in dark green</td><td style="text-align: right; padding: 4px; border-top: 1px solid #dddddd">200 EUR</td></tr>
<tr><td style="padding: 4px; border-top: 1px solid #dddddd">1 table, oak</td><td style="text-align: right; padding: 4px; border-top: 1px solid #dddddd">150 EUR</td></tr>
<tr><td style="padding: 4px; font-weight: 700">Total</td><td style="text-align: right; padding: 4px; font-weight: 700">350 EUR</td></tr>
</table>
<table width="300" bgcolor="#ffffcc"><tr><td align="right"><font color="#006600">Paid by card</font></td></tr></table>
<blockquote style="border-left: 3px solid #cccccc; padding-left: 8px; color: #555555">On Monday you wrote: where is my order?</blockquote>
<p style="font-family: Georgia, serif; font-size: 13px">Kind regards, <u>Carol</u><br><a href="https://shop.example/orders/4711">shop.example/orders/4711</a></p>
</body></html>`

// TestFormattedMailInChromium: a conversation with a formatted mail, a
// reply and a note, at 1,280 and 390 px. The mail's allowed inline styles
// apply under the page's Content-Security-Policy (no console error), it
// stays in its box, and a phone scrolls nothing sideways.
func TestFormattedMailInChromium(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := &workspace{env: setup(t, "sqlite")}
	w.mb1 = w.mailbox(t, 1)
	conv := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{
		From: helpdesk.Address{Name: "Carol Customer", Email: "carol@customer.example"}, Subject: "Order 4711",
		Text: "Your order 4711 is confirmed.", HTML: formattedMail,
		Attachments: []helpdesk.Attachment{{Filename: "invoice-4711.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 fake")}},
	}).ConversationID
	v := helpdesk.ViewerOf(w.admin)
	if _, err := w.store.AddReply(ctx, v, conv, helpdesk.NewReply{Body: "Thank you, Carol. The chairs leave our warehouse tomorrow."}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.AddNote(ctx, v, conv, "Checked stock: table ships separately.", 0); err != nil {
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
		chromedp.Navigate(fmt.Sprintf("%s/conversations/%d", w.ts.URL, conv)),
		chromedp.WaitVisible(`.mail-html`),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	check := func(width int) {
		t.Helper()
		got, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify({
			overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
			threads: document.querySelectorAll("article.thread").length,
			red: getComputedStyle(document.querySelector(".mail-html p")).color,
			layout: getComputedStyle(document.querySelector(".mail-html table")).tableLayout,
			legacy: (t => [getComputedStyle(t).display, getComputedStyle(t).width, getComputedStyle(t).backgroundColor, getComputedStyle(t.querySelector("td")).textAlign,
				getComputedStyle(t.querySelector("font")).color].join(" "))(document.querySelector(".mail-html table[bgcolor]")),
			boxed: [...document.querySelectorAll(".mail-html *")].every(el => {
				const b = el.closest(".mail-html").getBoundingClientRect(), r = el.getBoundingClientRect();
				return r.left >= b.left - 1 && r.right <= b.right + 1 && r.top >= b.top - 1 && r.bottom <= b.bottom + 1;
			}),
		})`))
		if err != nil {
			t.Fatal(err)
		}
		want := `{"overflow":0,"threads":3,"red":"rgb(204, 0, 0)","layout":"fixed",` +
			`"legacy":"table 300px rgb(255, 255, 204) -webkit-right rgb(0, 102, 0)","boxed":true}`
		if got != want {
			t.Errorf("at %d px the page shows %s, want %s", width, got, want)
		}
	}
	check(1280)
	saveScreenshot(t, bctx, "conversation-formatted-1280.png")
	if err := chromedp.Do(bctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Reload(),
		chromedp.WaitVisible(`.mail-html`),
	); err != nil {
		t.Fatal(err)
	}
	check(390)
	saveScreenshot(t, bctx, "conversation-formatted-390.png")
	consoleErrors(t)
}
