package web

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/locks"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// TestStatusPageInChromium: a real browser signs in and opens the status
// page while another process holds a mailbox's lease on Redis; the page
// shows the holder and the fence, and refreshes itself.
func TestStatusPageInChromium(t *testing.T) {
	t.Parallel()
	chromium := testserver.Chromium(t)
	rsrv := testserver.StartRedis(t)
	e := setup(t, "sqlite", func(c *Config) { c.Inspector = leaseview.NewRedisInspector(redisViewer(t, rsrv)) })
	ctx := context.Background()
	id := e.mailbox(t, 1)
	e.mailbox(t, 2)
	fence := e.fetched(t, id, nil)
	fetcher := locks.NewRedis(rsrv.Client(t), locks.Options{TTL: 30 * time.Second, Host: "fetch-host-7", PID: 31337, Instance: "a1b2c3"})
	lease, err := fetcher.Obtain(ctx, id, fence+1)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()

	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(chromium), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1600, 1000)}
	for _, f := range testserver.ChromiumFlags() {
		name, value, hasValue := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if hasValue {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	bctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	// Any console error (a CSP violation, a script error, a missing
	// resource) fails the test.
	consoleErrors := make(chan string, 64)
	report := func(msg string) {
		select {
		case consoleErrors <- msg:
		default:
		}
	}
	if err := chromedp.Listen(bctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			report("exception: " + ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == "error" {
				report("console.error")
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry != nil && ev.Entry.Level == "error" {
				report("log: " + ev.Entry.Text + " " + ev.Entry.URL)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}

	row := fmt.Sprintf(`tr[data-mailbox="%d"]`, id)
	err = chromedp.Do(bctx,
		chromedp.Navigate(e.ts.URL+"/admin/status"), // redirected to the login form
		chromedp.WaitVisible(`input[name=email]`),
		chromedp.SendKeys(`input[name=email]`, adminEmail),
		chromedp.SendKeys(`input[name=password]`, adminPassword),
		chromedp.Submit(`input[name=password]`),
		chromedp.WaitVisible(row),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	lockState := text(row + ` [data-field=lock-state]`)
	host := text(row + ` [data-field=holder-host]`)
	pid := text(row + ` [data-field=holder-pid]`)
	inst := text(row + ` [data-field=holder-instance]`)
	fenceText := text(row + ` [data-field=fence]`)
	asOf := text(`.refresh`)
	if lockState != "held" || host != "fetch-host-7" || pid != "31337" || inst != "a1b2c3" || fenceText != fmt.Sprint(fence+1) {
		t.Fatalf("page shows lock %q holder %q pid %q instance %q fence %q; want held fetch-host-7 31337 a1b2c3 %d",
			lockState, host, pid, inst, fenceText, fence+1)
	}

	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "status-page-held-lease.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("screenshot: %s", abs)

	// The page refreshes itself (the script runs under the CSP): the
	// "as of" line changes without a reload.
	_, err = chromedp.Run(bctx, chromedp.Poll[string](fmt.Sprintf(`(() => { const e = document.querySelector(".refresh"); return e && e.textContent.trim() !== %q ? e.textContent : null })()`, asOf),
		chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(200*time.Millisecond)))
	if err != nil {
		t.Fatalf("status page did not refresh itself: %v", err)
	}
	if got := text(row + ` [data-field=holder-host]`); got != "fetch-host-7" {
		t.Fatalf("after refresh: holder %q", got)
	}
	// "Fetch now" from the page records a request (and takes no lock).
	err = chromedp.Do(bctx,
		chromedp.Click(row+` button[form=fetch-now]`),
		chromedp.WaitVisible(`p.notice`),
	)
	if err != nil {
		t.Fatalf("fetch now: %v", err)
	}
	if notice := text(`p.notice`); !strings.Contains(notice, "Fetch requested") {
		t.Fatalf("after fetch now: %q", notice)
	}
	if ids, err := e.store.RequestedMailboxes(ctx); err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("fetch requests %v %v", ids, err)
	}
	// The answer to the post is the mailbox's page: its address is the
	// page's own (a reload does not post again) and it refreshes from it.
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(loc, fmt.Sprintf("/admin/mailboxes/%d", id)) {
		t.Fatalf("address after fetch now: %q %v", loc, err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.getElementById("mailbox").dataset.old = "1", true`)); err != nil {
		t.Fatal(err)
	}
	_, err = chromedp.Run(bctx, chromedp.Poll[bool](`(() => { const m = document.getElementById("mailbox"); return !!m && !m.dataset.old && !!m.querySelector("[data-field=fence]") })()`,
		chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(200*time.Millisecond)))
	if err != nil {
		t.Fatalf("mailbox page did not refresh itself: %v", err)
	}

	select {
	case msg := <-consoleErrors:
		t.Fatalf("browser console error: %s", msg)
	default:
	}
	if lease.Err() != nil {
		t.Fatalf("lease disturbed by the page: %v", lease.Err())
	}
}
