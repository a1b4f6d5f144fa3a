package web

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/testserver"
)

// TestForwardDeliveryInChromium: a forward whose mail failed shows on its
// note why, with a Retry button, at 390, 768 and 1,280 px without
// sideways scrolling. Screenshots go to testdata/artifacts.
func TestForwardDeliveryInChromium(t *testing.T) {
	t.Parallel()
	w := setupWorkspace(t, "sqlite")
	ctx := context.Background()
	fw, err := w.store.ForwardConversation(ctx, helpdesk.ViewerOf(w.agent), w.c1,
		helpdesk.Forward{To: "printer-vendor-escalations-desk@outside-printer-company.example", Note: "Can you help with this printer?"})
	if err != nil {
		t.Fatal(err)
	}
	sink := testserver.StartSMTP(t)
	sink.FailRate(1) // 451 to every mail; one attempt only: failed
	stop := startTestNotifier(t, w, sink)
	waitThreadDelivery(t, w, w.c1, fw.ThreadID, helpdesk.DeliveryFailed)
	stop()

	bctx, consoleErrors := startBrowser(t, 1280, 900)
	path := "/conversations/" + itoa(w.c1)
	tab := openAs(t, w, bctx, w.agent, path, false)
	note := `[data-thread="` + itoa(fw.ThreadID) + `"]`
	for _, width := range layoutWidths {
		viewport := chromedp.EmulateViewport(int64(width), 900)
		if width < 1280 {
			viewport = chromedp.EmulateViewport(int64(width), 900, chromedp.EmulateMobile)
		}
		if err := chromedp.Do(bctx, viewport, chromedp.Navigate(w.ts.URL+path), chromedp.WaitVisible(note)); err != nil {
			t.Fatal(err)
		}
		got := tab.eval(`JSON.stringify({overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
			retry: document.querySelectorAll('` + note + ` [data-retry]').length})`)
		if want := `{"overflow":0,"retry":1}`; got != want {
			t.Errorf("the failed forward at %d px: %s, want %s", width, got, want)
		}
		if state := tab.text(note + ` [data-delivery]`); !strings.HasPrefix(state, "forward not delivered: ") || !strings.Contains(state, "451") {
			t.Errorf("the failed forward at %d px shows %q", width, state)
		}
		saveScreenshot(t, bctx, fmt.Sprintf("forward-delivery-%d.png", width))
	}
	consoleErrors(t)
}
