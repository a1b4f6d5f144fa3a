package web

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// TestConversationListInChromium: the list with its folders fits 390, 768
// and 1,280 px (the folders fold away on a phone and stand beside the list
// on a laptop); unread rows are bold until opened; "Select all on page"
// and a bulk status change work in the browser. Screenshots go to
// testdata/artifacts.
func TestConversationListInChromium(t *testing.T) {
	t.Parallel()
	w := setupWorkspace(t, "sqlite")
	for i := range 4 {
		w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Name: fmt.Sprintf("Customer %d", i), Email: fmt.Sprintf("c%d@customer.example", i)},
			Subject: fmt.Sprintf("Question number %d about a rather long order description", i), Text: "Hello, where is my parcel?"})
	}
	if err := w.store.UpdateConversation(context.Background(), helpdesk.ViewerOf(w.admin), w.c2,
		helpdesk.ConversationChange{AssigneeID: &w.admin.ID}); err != nil {
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
		chromedp.Navigate(fmt.Sprintf("%s/conversations/%d", w.ts.URL, w.c1)),
		chromedp.WaitVisible(`.thread`),
	); err != nil {
		t.Fatalf("sign in and read #%d: %v", w.c1, err)
	}
	for _, width := range layoutWidths {
		viewport := chromedp.EmulateViewport(int64(width), 900)
		if width < 1280 {
			viewport = chromedp.EmulateViewport(int64(width), 900, chromedp.EmulateMobile)
		}
		if err := chromedp.Do(bctx, viewport, chromedp.Navigate(w.ts.URL+"/?status=all"), chromedp.WaitVisible(`tr[data-conversation]`)); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify({
			overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
			foldersOpen: document.getElementById("folders").open,
			foldersBeside: document.getElementById("folders").getBoundingClientRect().right <= document.querySelector(".desk-list").getBoundingClientRect().left,
			readWeight: getComputedStyle(document.querySelector('tr[data-conversation="`+itoa(w.c1)+`"] td[data-label=Mailbox]')).fontWeight,
			unreadWeight: getComputedStyle(document.querySelector('tr[data-conversation="`+itoa(w.c2)+`"] td[data-label=Mailbox]')).fontWeight })`))
		if err != nil {
			t.Fatal(err)
		}
		wide := width >= 1280
		want := fmt.Sprintf(`{"overflow":0,"foldersOpen":%v,"foldersBeside":%v,"readWeight":"400","unreadWeight":"600"}`, wide, wide)
		if got != want {
			t.Errorf("list at %d px: %s, want %s", width, got, want)
		}
		saveScreenshot(t, bctx, fmt.Sprintf("list-folders-%d.png", width))
	}

	// Select all on the page, close them in one go.
	if err := chromedp.Do(bctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(w.ts.URL+"/?status=all&mailbox="+itoa(w.mb1)),
		chromedp.WaitVisible(`input[data-select-all]`),
		chromedp.Click(`input[data-select-all]`),
		chromedp.SetValue(`#bulk select[name=status]`, helpdesk.StatusClosed),
		chromedp.Click(`#bulk button[value=status]`),
		chromedp.WaitVisible(`p.notice`),
	); err != nil {
		t.Fatalf("bulk close: %v", err)
	}
	saveScreenshot(t, bctx, "list-bulk-done-1280.png")
	if loc, err := chromedp.Run(bctx, chromedp.Location()); err != nil || loc != w.ts.URL+"/?mailbox="+itoa(w.mb1)+"&notice=bulk-done&status=all" {
		t.Errorf("after the bulk change: at %s (%v), want the list it was sent from", loc, err)
	}
	l, err := w.store.Conversations(context.Background(), helpdesk.ViewerOf(w.admin), helpdesk.ConversationFilter{MailboxID: w.mb1})
	if err != nil {
		t.Fatal(err)
	}
	if l.Counts[helpdesk.StatusClosed] != 6 || l.Total != 6 {
		t.Errorf("after closing all on the page: %v", l.Counts)
	}
	consoleErrors(t)
}
