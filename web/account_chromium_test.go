package web

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// TestAccountPagesInChromium: the users list, a user's page, the account
// page and the tokens page in a real browser at 1,280 and at 390 px, none
// wider than the screen; a token created in the form is shown, and a
// refused delete shows its error. Screenshots go to testdata/artifacts.
func TestAccountPagesInChromium(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite")
	ctx := context.Background()
	e.mailbox(t, 1)
	dora, err := e.store.CreateUser(ctx, helpdesk.UserInput{Email: "dora@example.com", Name: "Dora Disabled", Role: "agent", Password: "dora-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetUserDisabled(ctx, dora.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.store.CreateAPIToken(ctx, e.agent.ID, helpdesk.APITokenInput{Name: "Nightly export to the data warehouse", ExpiresInDays: 90}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.UserByAPIToken(ctx, e.adminToken); err != nil { // a last use to show
		t.Fatal(err)
	}

	bctx, consoleErrors := startBrowser(t, 1280, 900)
	if err := chromedp.Do(bctx,
		chromedp.Navigate(e.ts.URL+"/admin/users"),
		chromedp.WaitVisible(`input[name=email]`),
		chromedp.SendKeys(`input[name=email]`, adminEmail),
		chromedp.SendKeys(`input[name=password]`, adminPassword),
		chromedp.Submit(`input[name=password]`),
		chromedp.WaitVisible(`tr[data-user]`),
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
		got := eval(`JSON.stringify({overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth, width: window.innerWidth})`)
		if want := fmt.Sprintf(`{"overflow":0,"width":%d}`, width); got != want {
			t.Errorf("%s at %d px: %s, want %s", page, width, got, want)
		}
	}
	visit := func(path, waitFor string) {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Navigate(e.ts.URL+path), chromedp.WaitVisible(waitFor)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	userPage := fmt.Sprintf("/admin/users/%d", e.agent.ID)

	// A phone at 390 px has overlay scrollbars; the desktop has 1,280.
	emulate := func(width int) {
		t.Helper()
		opts := []chromedp.EmulateViewportOption{}
		if width < 500 {
			opts = append(opts, chromedp.EmulateMobile)
		}
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(int64(width), 900, opts...)); err != nil {
			t.Fatal(err)
		}
	}

	for _, width := range []int{1280, 390} {
		emulate(width)
		visit("/admin/users", `tr[data-user]`)
		fits("users", width)
		if got := eval(fmt.Sprintf(`document.querySelector('tr[data-user="%d"] [data-field=user-status]').textContent`, dora.ID)); got != "disabled" {
			t.Errorf("Dora's status: %q", got)
		}
		saveScreenshot(t, bctx, fmt.Sprintf("users-%d.png", width))

		visit(userPage, `select[name=reassign_to]`)
		fits("user", width)
		saveScreenshot(t, bctx, fmt.Sprintf("user-%d.png", width))

		visit("/account", `input[name=current_password]`)
		fits("account", width)
		saveScreenshot(t, bctx, fmt.Sprintf("account-%d.png", width))

		visit("/account/tokens", `input[name=name]`)
		if err := chromedp.Do(bctx,
			chromedp.SendKeys(`input[name=name]`, fmt.Sprintf("Deploy script %d", width)),
			chromedp.SendKeys(`input[name=expires_in_days]`, "30"),
			chromedp.Submit(`input[name=name]`),
			chromedp.WaitVisible(`[data-field=new-token]`),
		); err != nil {
			t.Fatalf("create token: %v", err)
		}
		if got := eval(`document.querySelector("[data-field=new-token]").value`); !strings.HasPrefix(got, helpdesk.APITokenPrefix) {
			t.Errorf("new token shown as %q", got)
		}
		fits("tokens", width)
		saveScreenshot(t, bctx, fmt.Sprintf("tokens-%d.png", width))
	}
	consoleErrors(t)

	// Delete without saying who takes over: refused, the error beside the field.
	// (The browser logs the 422, so this comes after the console check.)
	for _, width := range []int{390, 1280} {
		emulate(width)
		visit(userPage, `select[name=reassign_to]`)
		if err := chromedp.Do(bctx,
			chromedp.Submit(`select[name=reassign_to]`),
			chromedp.WaitVisible(`[data-field-error=reassign_to]`),
		); err != nil {
			t.Fatalf("refused delete: %v", err)
		}
		fits("user with an error", width)
		saveScreenshot(t, bctx, fmt.Sprintf("user-error-%d.png", width))
	}
}
