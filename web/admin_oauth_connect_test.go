package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/testserver"
)

// oauthMailbox is a mailbox of a generic OAuth2 provider that was never
// connected: it waits for an admin.
func oauthMailbox(t *testing.T, e *env, p *testserver.OAuthProvider) int64 {
	t.Helper()
	in := mailboxInput(1)
	in.IMAPAuth, in.IMAPPassword = helpdesk.AuthOAuth2, ""
	in.OAuth = helpdesk.OAuthInput{AuthURL: p.AuthURL(), TokenURL: p.TokenURL(), ClientID: p.ClientID, ClientSecret: p.ClientSecret}
	id, err := e.store.CreateMailbox(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// An admin connects a mailbox in a real browser: the authorization-code
// flow with PKCE against the test's provider, back to the public URL; the
// page shows the account, the refresh token is stored and live, and the
// status API no longer says the mailbox needs reconnecting.
func TestOAuthConnectInChromium(t *testing.T) {
	t.Parallel()
	p := testserver.StartOAuthProvider(t)
	p.ConsentAs("support1@example.com")
	e := setup(t, "sqlite")
	e.srv.cfg.PublicURL = e.ts.URL
	id := oauthMailbox(t, e, p)

	_, body := e.api(t, e.adminToken, http.MethodGet, fmt.Sprintf("/api/v1/mailboxes/%d/status", id))
	if !strings.Contains(body, `"needs_reconnect":true`) || !strings.Contains(body, `"method":"oauth2"`) {
		t.Fatalf("status of a mailbox never connected: %s", body)
	}

	bctx, _ := startBrowser(t, 1280, 900)
	err := chromedp.Do(bctx,
		chromedp.Navigate(fmt.Sprintf("%s/admin/mailboxes/%d", e.ts.URL, id)),
		chromedp.WaitVisible(`input[name=email]`),
		chromedp.SendKeys(`input[name=email]`, adminEmail),
		chromedp.SendKeys(`input[name=password]`, adminPassword),
		chromedp.Submit(`input[name=password]`),
		chromedp.WaitVisible(`[data-field=needs-reconnect]`),
		chromedp.Click(`button[data-connect=generic]`),
		chromedp.WaitVisible(`[data-field=oauth-account]`),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	account, err := chromedp.Run(bctx, chromedp.Text(`[data-field=oauth-account]`))
	if err != nil {
		t.Fatal(err)
	}
	location, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if account != "support1@example.com" || !strings.HasSuffix(location, fmt.Sprintf("/admin/mailboxes/%d?notice=connected", id)) {
		t.Fatalf("after connecting: account %q at %s", account, location)
	}
	saveScreenshot(t, bctx, "mailbox-oauth-connected.png")

	creds, err := e.store.OAuthCredentials(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if creds.NeedsReconnect || !p.LiveRefreshToken(creds.RefreshToken) || p.TokenRequests("authorization_code") != 1 {
		t.Fatalf("stored: needs reconnect %v, live %v, code exchanges %d", creds.NeedsReconnect,
			p.LiveRefreshToken(creds.RefreshToken), p.TokenRequests("authorization_code"))
	}
	if _, requested, err := e.store.FetchChanges(context.Background()); err != nil || len(requested) != 1 || requested[0] != id {
		t.Fatalf("fetch requests after connecting: %v %v, want one for mailbox %d", requested, err, id)
	}
	_, body = e.api(t, e.adminToken, http.MethodGet, fmt.Sprintf("/api/v1/mailboxes/%d/status", id))
	if !strings.Contains(body, `"needs_reconnect":false`) || !strings.Contains(body, `"account":"support1@example.com"`) {
		t.Fatalf("status after connecting: %s", body)
	}
}

// The callback takes only answers to a flow the same session started:
// another admin's session, a forged state or no flow at all gets 400, and
// nothing is stored.
func TestOAuthCallbackRefusesForeignState(t *testing.T) {
	t.Parallel()
	p := testserver.StartOAuthProvider(t)
	p.ConsentAs("support1@example.com")
	e := setup(t, "sqlite")
	e.srv.cfg.PublicURL = e.ts.URL
	id := oauthMailbox(t, e, p)

	victim := e.session(t, e.admin)
	resp, _ := victim.submit(fmt.Sprintf("/admin/mailboxes/%d/connect", id), url.Values{"provider": {"generic"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("connect: %d", resp.StatusCode)
	}
	consent, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || consent.Query().Get("code_challenge_method") != "S256" || consent.Query().Get("code_challenge") == "" ||
		consent.Query().Get("redirect_uri") != e.ts.URL+"/admin/oauth/callback" {
		t.Fatalf("authorization request %s: want PKCE S256 and the public callback URL", consent)
	}
	// The provider's answer, as it would redirect.
	answer, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(consent.String())
	if err != nil {
		t.Fatal(err)
	}
	answer.Body.Close()
	back, _ := url.Parse(answer.Header.Get("Location"))
	var flowCookie []*http.Cookie
	for _, ck := range victim.http.Jar.Cookies(back) {
		if ck.Name == oauthCookie {
			flowCookie = append(flowCookie, &http.Cookie{Name: ck.Name, Value: ck.Value, Path: oauthCallbackPath})
		}
	}
	if len(flowCookie) != 1 {
		t.Fatalf("the flow's cookie is missing: %v", victim.http.Jar.Cookies(back))
	}

	// Another session of the same admin, given the victim's cookie and answer.
	other := e.session(t, e.admin)
	other.http.Jar.SetCookies(back, flowCookie)
	resp, body := other.get(back.RequestURI())
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "state mismatch") {
		t.Fatalf("callback in another session: %d %s", resp.StatusCode, body)
	}
	// A forged state in the victim's own session.
	q := back.Query()
	q.Set("state", "forged."+q.Get("state"))
	resp, _ = victim.get(back.Path + "?" + q.Encode())
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged state: %d", resp.StatusCode)
	}
	// No flow started (the cookie was used up above).
	resp, body = victim.get(back.RequestURI())
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "start it again") {
		t.Fatalf("callback without a flow: %d %s", resp.StatusCode, body)
	}
	creds, err := e.store.OAuthCredentials(context.Background(), id)
	if err != nil || creds.RefreshToken != "" || p.TokenRequests("authorization_code") != 0 {
		t.Fatalf("something was stored or exchanged: %+v %v, %d exchanges", creds, err, p.TokenRequests("authorization_code"))
	}
}

// Connecting needs the public URL; without it the button is not offered
// and a hand-made request gets an inline error, not a 500.
func TestOAuthConnectWithoutPublicURL(t *testing.T) {
	t.Parallel()
	p := testserver.StartOAuthProvider(t)
	e := setup(t, "sqlite")
	id := oauthMailbox(t, e, p)
	admin := e.session(t, e.admin)
	_, body := admin.get(fmt.Sprintf("/admin/mailboxes/%d", id))
	if strings.Contains(body, "data-connect=") {
		t.Fatal("Connect offered without HELPDESK_PUBLIC_URL")
	}
	resp, _ := admin.submit(fmt.Sprintf("/admin/mailboxes/%d/connect", id), url.Values{"provider": {"generic"}})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("connect without a public URL: %d", resp.StatusCode)
	}
}

// A mailbox that must be reconnected is a problem on the status page.
func TestStatusPageShowsMailboxToReconnect(t *testing.T) {
	t.Parallel()
	p := testserver.StartOAuthProvider(t)
	e := setup(t, "sqlite")
	id := oauthMailbox(t, e, p)
	ok := e.mailbox(t, 2)
	_, body := e.session(t, e.admin).get("/admin/status")
	row := between(t, body, fmt.Sprintf(`data-mailbox="%d"`, id), "</tr>")
	if !strings.Contains(row, `data-problem="reconnect"`) || !strings.Contains(row, "must be reconnected") {
		t.Fatalf("status row of a mailbox to reconnect:\n%s", row)
	}
	if row := between(t, body, fmt.Sprintf(`data-mailbox="%d"`, ok), "</tr>"); strings.Contains(row, `data-problem="reconnect"`) {
		t.Fatalf("a password mailbox shown as needing reconnect:\n%s", row)
	}
}

// The new-mailbox form creates an OAuth2 mailbox: with Google's
// configured client, or a generic provider's typed one (a bad token URL
// is an inline error that keeps the typed text); it waits to be
// connected and its page offers Connect.
func TestMailboxFormCreatesOAuth2Mailbox(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite", func(c *Config) {
		c.OAuthClients = map[string]OAuthClient{"google": {ID: "google-client", Secret: "google-secret"}}
	})
	e.srv.cfg.PublicURL = e.ts.URL
	admin := e.session(t, e.admin)
	form := validMailboxForm()
	form.Del("imap_password")
	form.Set("imap_auth", "oauth2")
	form.Set("oauth_provider", "generic")
	form.Set("oauth_token_url", "not a url")
	form.Set("oauth_client_id", "typed-client")
	resp, body := admin.submit("/admin/mailboxes", form)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "the provider&#39;s token endpoint") ||
		!strings.Contains(body, `value="typed-client"`) {
		t.Fatalf("bad token URL: %d\n%s", resp.StatusCode, body)
	}

	form.Set("oauth_provider", "google")
	form.Set("oauth_token_url", "")
	form.Set("oauth_client_id", "")
	resp, body = admin.submit("/admin/mailboxes", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", resp.StatusCode, body)
	}
	var id int64
	if _, err := fmt.Sscanf(resp.Header.Get("Location"), "/admin/mailboxes/%d?notice=created", &id); err != nil {
		t.Fatalf("location %q", resp.Header.Get("Location"))
	}
	m, err := e.store.Mailbox(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if m.OAuth == nil || m.OAuth.Provider != "google" || m.OAuth.ClientID != "google-client" || !m.OAuth.NeedsReconnect ||
		m.OAuth.TokenURL != helpdesk.OAuthProviders["google"].TokenURL || m.IMAPPasswordEnc != "" {
		t.Fatalf("stored: %+v %+v", m, m.OAuth)
	}
	_, body = admin.get(fmt.Sprintf("/admin/mailboxes/%d", id))
	if !strings.Contains(body, `data-connect="google"`) || !strings.Contains(body, `data-field="needs-reconnect"`) {
		t.Fatalf("mailbox page offers no Connect with Google:\n%s", body)
	}
}
