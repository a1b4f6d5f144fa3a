package web

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

	bctx, consoleErrors := startBrowser(t, 1600, 1000)

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

	saveScreenshot(t, bctx, "status-page-held-lease.png")

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
	if _, ids, err := e.store.FetchChanges(ctx); err != nil || len(ids) != 1 || ids[0] != id {
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

	consoleErrors(t)
	if lease.Err() != nil {
		t.Fatalf("lease disturbed by the page: %v", lease.Err())
	}
}

// startBrowser opens a tab with a window of the size, in a browser context
// of its own in the package's shared Chromium, and returns its context and
// a check that fails the test on any console error seen so far (a CSP
// violation, a script error, a missing resource).
func startBrowser(t *testing.T, width, height int) (context.Context, func(t *testing.T)) {
	t.Helper()
	bctx, cancel := context.WithTimeout(testserver.ChromiumTab(t, width, height), 90*time.Second)
	t.Cleanup(cancel)
	return bctx, watchConsole(t, bctx)
}

// newBrowserContext opens a tab in a browser context of its own (its own
// cookies: another user) of the browser of bctx, with its console check.
func newBrowserContext(t *testing.T, bctx context.Context) (context.Context, func(t *testing.T)) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return ctx, watchConsole(t, ctx)
}

// watchConsole returns a check that fails the test on any console error
// seen so far in the tab of bctx.
func watchConsole(t *testing.T, bctx context.Context) func(t *testing.T) {
	t.Helper()
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
			if ev.Entry != nil && ev.Entry.Level == "error" && !refusedForm(ev.Entry) {
				report("log: " + ev.Entry.Text + " " + ev.Entry.URL)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T) {
		t.Helper()
		select {
		case msg := <-consoleErrors:
			t.Fatalf("browser console error: %s", msg)
		default:
		}
	}
}

// refusedForm is the log entry of a conversation page form answered 409 or
// 422: the page shown again with the refusal, not a failed resource.
func refusedForm(e *cdplog.Entry) bool {
	return e.Source == cdplog.EntrySourceNetwork && strings.Contains(e.URL, "/conversations/") &&
		(strings.Contains(e.Text, "status of 409") || strings.Contains(e.Text, "status of 422"))
}

// saveScreenshot saves a screenshot of the whole page under
// testdata/artifacts and logs its path.
func saveScreenshot(t *testing.T, bctx context.Context, name string) {
	t.Helper()
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("screenshot: %s", abs)
}

// TestStatusPageAtFleetSizeInChromium: with 1,000 mailboxes the status
// page shows, at 1,280 and at 390 px without sideways scrolling, the
// fleet and one page of mailboxes with the problems first; the filter
// form and the state links narrow the list, and the refreshes keep the
// filter. Screenshots of both widths go to testdata/artifacts.
func TestStatusPageAtFleetSizeInChromium(t *testing.T) {
	t.Parallel()
	// With the status cache, as served: one reading a second at most,
	// whatever the browser's loads and refreshes.
	e := setup(t, "sqlite", func(c *Config) { c.StatusCacheTTL = 0 })
	ctx := context.Background()
	seed := seedFleet(t, e, 1000, true)
	fleet := e.local.Fleet()
	fleet.SetOwned(len(seed.leases))
	if err := fleet.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fleet.Stop)
	problems := seed.withProblems()

	bctx, consoleErrors := startBrowser(t, 1280, 900)
	err := chromedp.Do(bctx,
		chromedp.Navigate(e.ts.URL+"/admin/status"),
		chromedp.WaitVisible(`input[name=email]`),
		chromedp.SendKeys(`input[name=email]`, adminEmail),
		chromedp.SendKeys(`input[name=password]`, adminPassword),
		chromedp.Submit(`input[name=password]`),
		chromedp.WaitVisible(`tr[data-mailbox]`),
	)
	if err != nil {
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
	// The mailbox rows listed (IDs in order), and what the page shows of
	// itself: fits its width, fleet rows, refresh address.
	listed := func() string {
		return eval(`[...document.querySelectorAll("tr[data-mailbox]")].map(r => r.dataset.mailbox).join(",")`)
	}
	ids := func(xs []int64) string {
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = fmt.Sprint(x)
		}
		return strings.Join(s, ",")
	}
	checkLayout := func(width int) {
		t.Helper()
		got := eval(`JSON.stringify({
			overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
			width: window.innerWidth,
			fleet: document.querySelectorAll("tr[data-instance]").length,
			rows: document.querySelectorAll("tr[data-mailbox]").length,
			firstProblem: document.querySelector("tr[data-mailbox]").classList.contains("problem"),
			pager: (document.querySelector("[data-field=page]") || {}).textContent,
		})`)
		want := fmt.Sprintf(`{"overflow":0,"width":%d,"fleet":1,"rows":50,"firstProblem":true,"pager":"Page 1 of 20"}`, width)
		if got != want {
			t.Errorf("at %d px the page shows %s, want %s", width, got, want)
		}
	}

	checkLayout(1280)
	if got := listed(); !strings.HasPrefix(got, ids(problems)+",") {
		t.Errorf("rows %s do not start with the problems %s", got, ids(problems))
	}
	saveScreenshot(t, bctx, "status-fleet-1280.png")

	// The filter form: name or address, and a state.
	err = chromedp.Do(bctx,
		chromedp.SendKeys(`input[name=q]`, "support 99"),
		chromedp.SetValue(`select[name=state]`, "held"),
		chromedp.Submit(`input[name=q]`),
		chromedp.WaitVisible(`[data-field=range]`),
	)
	if err != nil {
		t.Fatalf("filter: %v", err)
	}
	loc, _ := chromedp.Run(bctx, chromedp.Location())
	if !strings.HasSuffix(loc, "/admin/status?q=support+99&state=held") {
		t.Errorf("address after filtering: %s", loc)
	}
	// Support 99 and 990..999, held: all but 997 (unheld) and 999 (disabled).
	var want []int64
	for _, id := range seed.pageOrder() {
		if n := slices.Index(seed.ids, id); (n == 99 || n >= 990) && n != 997 && n != 999 {
			want = append(want, id)
		}
	}
	if got := listed(); got != ids(want) {
		t.Errorf("filtered rows %s, want %s", got, ids(want))
	}
	if got := eval(`document.getElementById("status").dataset.refreshUrl`); got != "/admin/status?q=support+99&state=held" {
		t.Errorf("the filtered page refreshes from %s", got)
	}

	// A phone: the same page, each row a card, nothing wider than the screen.
	if err := chromedp.Do(bctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), // with overlay scrollbars, as a phone
		chromedp.Navigate(e.ts.URL+"/admin/status"),
		chromedp.WaitVisible(`tr[data-mailbox]`),
	); err != nil {
		t.Fatal(err)
	}
	checkLayout(390)
	saveScreenshot(t, bctx, "status-fleet-390.png")
	if err := chromedp.Do(bctx,
		chromedp.Click(`nav.states a[data-state=problems]`),
		chromedp.WaitVisible(`nav.states a[data-state=problems][aria-current=page]`),
	); err != nil {
		t.Fatal(err)
	}
	if got := listed(); got != ids(problems) {
		t.Errorf("problems: %s, want %s", got, ids(problems))
	}
	consoleErrors(t)
}
