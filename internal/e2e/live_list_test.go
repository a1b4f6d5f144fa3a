package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/internal/testserver"
)

// TestNewMailAppearsInOpenList: with the fetch service running (IDLE on
// Dovecot), a mail appended to the mailbox shows up in the agent's open
// conversation list, with its count, without a reload.
func TestNewMailAppearsInOpenList(t *testing.T) {
	e := setup(t, "sqlite")
	d := testserver.StartDovecot(t)
	d.AddUser(t, "support", "secret-pass")
	mb := dovecotMailbox(t, e, d, "support")
	svc := fetcher.NewService(fetcher.New(e.store, fetcher.Config{Holder: "test"}), e.local, e.local.Inspector(),
		fetcher.ServiceConfig{Fleet: e.local.Fleet()})
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)

	bctx := browser(t)
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	token, _, err := e.store.CreateSession(ctx, e.agent.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	httpOnly := true
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
		Name: sessionCookie, Value: token, URL: e.ts.URL, Path: "/", HTTPOnly: &httpOnly,
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/"), chromedp.WaitVisible("table#conversations")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__notReloaded = true`)); err != nil {
		t.Fatal(err)
	}

	d.Append(t, "support", "INBOX", []byte("From: Dora <dora@customer.example>\r\nTo: support@example.test\r\n"+
		"Subject: Live from Dovecot\r\nMessage-ID: <live-1@customer.example>\r\n\r\nIs anyone there?\r\n"))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`[...document.querySelectorAll("#conversations tr[data-conversation]")].some(r => r.textContent.includes("Live from Dovecot"))`+
		` && document.querySelector("[data-count=active]").textContent === "(1)" && window.__notReloaded === true`,
		chromedp.WithPollingTimeout(90*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		t.Fatalf("mailbox %d: the fetched mail did not appear in the open list: %v", mb, err)
	}
}
