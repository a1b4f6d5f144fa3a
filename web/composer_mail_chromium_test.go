package web

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// TestComposerMailInChromium: the composer (Cc prefilled for reply all, Bcc,
// files, the forward box) fits 390, 768 and 1,280 px without sideways
// scrolling; a file over the limit is refused as it is chosen, and a
// reply with a file sent from the page is stored with it. Screenshots go
// to testdata/artifacts.
func TestComposerMailInChromium(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := &workspace{env: setup(t, "sqlite", func(c *Config) { c.Attachments = helpdesk.AttachmentLimits{PerFile: 4 << 10, PerReply: 8 << 10} })}
	w.mb1 = w.mailbox(t, 1)
	if err := w.store.SetUserMailboxes(ctx, w.agent.ID, []int64{w.mb1}); err != nil {
		t.Fatal(err)
	}
	conv := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{
		From: helpdesk.Address{Name: "Alice", Email: "alice@customer.example"}, Subject: "Broken toaster",
		Cc:   []helpdesk.Address{{Email: "carol@partner.example"}, {Email: "a-colleague-with-a-very-long-address@partner-company.example"}},
		Text: "It toasts nothing.",
	}).ConversationID
	if _, err := w.store.AddReply(ctx, helpdesk.ViewerOf(w.agent), conv, helpdesk.NewReply{Body: "Here is the **manual**.",
		Cc: []string{"carol@partner.example"}, Bcc: []string{"boss@example.org"},
		Attachments: []helpdesk.NewAttachment{{Filename: "toaster-manual.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4")}}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	small, big := filepath.Join(dir, "photo.png"), filepath.Join(dir, "too-big.bin")
	os.WriteFile(small, []byte("\x89PNG small"), 0o644)
	os.WriteFile(big, make([]byte, 5<<10), 0o644)

	bctx, consoleErrors := startBrowser(t, 1280, 900)
	path := "/conversations/" + itoa(conv)
	tab := openAs(t, w, bctx, w.agent, path, false)
	for _, width := range layoutWidths {
		viewport := chromedp.EmulateViewport(int64(width), 900)
		if width < 1280 {
			viewport = chromedp.EmulateViewport(int64(width), 900, chromedp.EmulateMobile)
		}
		if err := chromedp.Do(bctx, viewport, chromedp.Navigate(w.ts.URL+path), chromedp.WaitVisible(`#reply-files`)); err != nil {
			t.Fatal(err)
		}
		got := tab.eval(`document.querySelector("details.forward").open = true, JSON.stringify({
			overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
			cc: document.querySelector("#reply-cc").value })`)
		if want := `{"overflow":0,"cc":"carol@partner.example, a-colleague-with-a-very-long-address@partner-company.example"}`; got != want {
			t.Errorf("composer at %d px: %s, want %s", width, got, want)
		}
		saveScreenshot(t, bctx, fmt.Sprintf("composer-mail-%d.png", width))
	}

	// A file over the limit is refused as it is chosen.
	if err := chromedp.Do(bctx, chromedp.SetUploadFiles(`#reply-files`, []string{big})); err != nil {
		t.Fatal(err)
	}
	if got := tab.eval(`JSON.stringify([document.querySelector("#files-error").hidden, document.querySelector("#files-error").textContent, document.querySelector("#reply-files").files.length])`); !strings.Contains(got, `[false,"too-big.bin is 5.0 KiB: each file may be at most 4.0 KiB.`) || !strings.HasSuffix(got, ",0]") {
		t.Errorf("an oversized file chosen: %s", got)
	}

	// A reply with a file, sent from the page.
	if err := chromedp.Do(bctx,
		chromedp.SetUploadFiles(`#reply-files`, []string{small}),
		chromedp.SendKeys(`textarea[name=body]`, "A photo of the toaster, please compare."),
		chromedp.Click(`button[formaction$="/replies"][value=pending]`),
		chromedp.WaitVisible(`.notice`),
	); err != nil {
		t.Fatal(err)
	}
	d, err := w.store.Conversation(ctx, helpdesk.ViewerOf(w.agent), conv)
	if err != nil {
		t.Fatal(err)
	}
	last := d.Threads[len(d.Threads)-1]
	if last.Kind != "reply" || len(last.Attachments) != 1 || last.Attachments[0].Filename != "photo.png" || last.Attachments[0].Size != int64(len("\x89PNG small")) ||
		last.Cc != "carol@partner.example, a-colleague-with-a-very-long-address@partner-company.example" {
		t.Errorf("the reply sent from the page: %+v", last)
	}
	consoleErrors(t)
}
