package fetcher_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// oauthEnv is an env whose mailbox signs in with OAuth2 against a test
// provider, on a Dovecot that checks tokens by introspection there.
type oauthEnv struct {
	*env
	provider *testserver.OAuthProvider
}

func setupOAuth(t *testing.T, dialect string, mechanisms ...string) *oauthEnv {
	t.Helper()
	p := testserver.StartOAuthProvider(t)
	d := testserver.StartDovecotOAuth2(t, testserver.DovecotOAuth2Options{IntrospectURL: p.IntrospectURL(), Mechanisms: mechanisms})
	e := setupWith(t, d, teststore.Open(t, dialect), func(in *helpdesk.MailboxInput) {
		in.IMAPAuth, in.IMAPPassword = helpdesk.AuthOAuth2, ""
		in.OAuth = helpdesk.OAuthInput{Provider: "generic", TokenURL: p.TokenURL(), ClientID: p.ClientID,
			ClientSecret: p.ClientSecret, RefreshToken: p.Grant("support")}
	})
	return &oauthEnv{env: e, provider: p}
}

func (e *oauthEnv) appendMail(i int) string {
	raw, id := teststore.Mail("oauth", i, 500)
	e.dovecot.Append(e.t, e.user, "INBOX", raw)
	return id
}

func (e *oauthEnv) credentials() *helpdesk.OAuthCredentials {
	e.t.Helper()
	c, err := e.store.OAuthCredentials(context.Background(), e.mailbox)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// A mailbox fetches with XOAUTH2 where the server offers only that, and
// with OAUTHBEARER where it is offered; the access token is asked for
// once and used until it expires.
func TestOAuth2FetchWithEachMechanism(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	for _, mechs := range [][]string{{"xoauth2"}, {"oauthbearer"}, {"xoauth2", "oauthbearer"}} {
		t.Run(strings.Join(mechs, "+"), func(t *testing.T) {
			t.Parallel()
			e := setupOAuth(t, "sqlite", mechs...)
			ids := []string{e.appendMail(1), e.appendMail(2)}
			if sum := e.fetch(); sum.New != 2 {
				t.Fatalf("first fetch %+v, want 2 new", sum)
			}
			id3 := e.appendMail(3)
			if sum := e.fetch(); sum.New != 1 {
				t.Fatalf("second fetch %+v, want 1 new", sum)
			}
			teststore.RequireExactlyOnce(t, e.store, e.mailbox, append(ids, id3))
			if n := e.provider.TokenRequests("refresh_token"); n != 1 {
				t.Fatalf("%d token requests for two fetches, want 1 (the token is cached)", n)
			}
		})
	}
}

// An access token the server already rejects (revoked, or dead before its
// expires_in) while it is cached: the login fails, the connection is
// dropped, a new token is fetched and the fetch goes on.
func TestOAuth2RejectedCachedTokenIsRefreshed(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setupOAuth(t, dialect)
		e.appendMail(1)
		e.fetch()
		e.provider.ExpireAccessTokens()
		e.appendMail(2)
		if sum := e.fetch(); sum.New != 1 {
			t.Fatalf("fetch after the token died: %+v, want 1 new", sum)
		}
		if n := e.provider.TokenRequests("refresh_token"); n != 2 {
			t.Fatalf("%d token requests, want 2", n)
		}
	})
}

// A token close to its expiry is replaced before a login, not after the
// server refuses it.
func TestOAuth2TokenRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	e := setupOAuth(t, "sqlite")
	e.provider.SetLifetime(30 * time.Second) // inside the refresh margin
	e.fetch()
	e.fetch()
	if n := e.provider.TokenRequests("refresh_token"); n != 2 {
		t.Fatalf("%d token requests for two fetches with a token about to expire, want 2", n)
	}
}

// A provider that rotates refresh tokens and refuses a used one: every
// rotated token is stored at once, and instances refreshing at the same
// time take turns, so none presents a used token and none marks the
// mailbox for reconnecting.
func TestOAuth2RotatedRefreshTokensSurviveRacingFetchers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setupOAuth(t, dialect)
		e.provider.RotateRefreshTokens()
		admin(t, e.env)
		for round := range 5 {
			before := e.credentials()
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range errs {
				// A new fetcher is a new instance: its own token cache.
				f := fetcher.New(e.store, fetcher.Config{Holder: fmt.Sprintf("instance-%d", i)})
				m, err := e.store.Mailbox(context.Background(), e.mailbox)
				if err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = f.TestConnection(context.Background(), m)
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			after := e.credentials()
			if after.Version != before.Version+2 || after.NeedsReconnect || !e.provider.LiveRefreshToken(after.RefreshToken) {
				t.Fatalf("round %d: stored version %d -> %d, needs reconnect %v, live %v: want two rotations stored, the last live",
					round, before.Version, after.Version, after.NeedsReconnect, e.provider.LiveRefreshToken(after.RefreshToken))
			}
		}
		if n := e.provider.MaxConcurrentRefreshes(); n != 1 {
			t.Fatalf("%d refreshes ran at once, want 1 at a time", n)
		}
		e.appendMail(1)
		if sum := e.fetch(); sum.New != 1 {
			t.Fatalf("fetch after the rotations: %+v", sum)
		}
		requireAlerts(t, e.env, 0)
	})
}

// Consent revoked: the refresh gets invalid_grant, the mailbox needs
// reconnecting, admins get one alert, and no more token requests are made
// however often it is fetched. Mail that arrived stays on the server and
// is fetched once an admin connected the mailbox again.
func TestOAuth2RevokedConsentNeedsReconnect(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setupOAuth(t, dialect)
		admin(t, e.env)
		e.fetch()
		e.provider.Revoke("support")
		waiting := e.appendMail(1)
		for range 3 {
			_, err := e.fetcher.RunLeased(context.Background(), e.locker, fetcher.Job{MailboxID: e.mailbox, Trigger: "test"})
			if !errors.Is(err, helpdesk.ErrNeedsReconnect) || !strings.Contains(err.Error(), "must be reconnected") {
				t.Fatalf("fetch of a revoked mailbox: %v, want ErrNeedsReconnect", err)
			}
		}
		if n := e.provider.TokenRequests("refresh_token"); n != 2 {
			t.Fatalf("%d token requests, want 2 (the first fetch's and the refused one)", n)
		}
		m, err := e.store.Mailbox(context.Background(), e.mailbox)
		if err != nil || m.OAuth == nil || !m.OAuth.NeedsReconnect || !strings.Contains(m.OAuth.ReconnectReason, "invalid_grant") {
			t.Fatalf("mailbox %+v (%v): want needs_reconnect with the provider's answer", m.OAuth, err)
		}
		// The failing runs send no second alert.
		if err := e.store.UpdateFetchAlert(context.Background(), e.mailbox, helpdesk.FetchAlertAfter+1); err != nil {
			t.Fatal(err)
		}
		requireAlerts(t, e.env, 1)

		err = e.store.ConnectMailboxOAuth(context.Background(), e.mailbox, helpdesk.OAuthInput{Provider: "generic",
			TokenURL: e.provider.TokenURL(), ClientID: e.provider.ClientID, ClientSecret: e.provider.ClientSecret,
			RefreshToken: e.provider.Grant("support"), Account: "support"})
		if err != nil {
			t.Fatal(err)
		}
		if sum := e.fetch(); sum.New != 1 {
			t.Fatalf("fetch after reconnecting: %+v, want the waiting mail", sum)
		}
		teststore.RequireExactlyOnce(t, e.store, e.mailbox, []string{waiting})
	})
}

// "Test connection" says which step of the sign-in failed.
func TestOAuth2TestConnectionSaysWhatFailed(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	e := setupOAuth(t, "sqlite")
	m, err := e.store.Mailbox(context.Background(), e.mailbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fetcher.TestConnection(context.Background(), m); err != nil {
		t.Fatalf("working mailbox: %v", err)
	}

	// The IMAP login: the token belongs to another user.
	other := *m
	other.IMAPUser = "someone-else"
	e.dovecot.AddUser(t, "someone-else", "pw")
	err = e.fetcher.TestConnection(context.Background(), &other)
	if err == nil || !strings.Contains(err.Error(), "IMAP login") || !strings.Contains(err.Error(), "rejected the access token") {
		t.Fatalf("token of another user: %v", err)
	}

	// The token endpoint: a wrong client secret.
	err = e.store.ConnectMailboxOAuth(context.Background(), e.mailbox, helpdesk.OAuthInput{Provider: "generic",
		TokenURL: e.provider.TokenURL(), ClientID: e.provider.ClientID, ClientSecret: "wrong",
		RefreshToken: e.provider.Grant("support")})
	if err != nil {
		t.Fatal(err)
	}
	f := fetcher.New(e.store, fetcher.Config{}) // no cached token
	err = f.TestConnection(context.Background(), m)
	if err == nil || !strings.Contains(err.Error(), "token endpoint "+e.provider.TokenURL()) || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("wrong client secret: %v", err)
	}
}

// The server cannot check tokens (its introspection endpoint is down).
func TestOAuth2TestConnectionIntrospectionDown(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	p := testserver.StartOAuthProvider(t)
	d := testserver.StartDovecotOAuth2(t, testserver.DovecotOAuth2Options{IntrospectURL: "http://127.0.0.1:1/introspect"})
	e := setupWith(t, d, teststore.Open(t, "sqlite"), func(in *helpdesk.MailboxInput) {
		in.IMAPAuth, in.IMAPPassword = helpdesk.AuthOAuth2, ""
		in.OAuth = helpdesk.OAuthInput{TokenURL: p.TokenURL(), ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			RefreshToken: p.Grant("support")}
	})
	m, err := e.store.Mailbox(context.Background(), e.mailbox)
	if err != nil {
		t.Fatal(err)
	}
	err = e.fetcher.TestConnection(context.Background(), m)
	if err == nil || !strings.Contains(err.Error(), "could not check the access token") {
		t.Fatalf("introspection down: %v", err)
	}
}

// The service idles on an OAuth2 mailbox; the token dies and the server
// drops the connection (restarted): the service logs in again with a new
// token and stores the mail that came meanwhile.
func TestOAuth2IdleReconnectsWithANewToken(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	e := setupOAuth(t, "sqlite")
	first := e.appendMail(1)
	svc := startService(t, e.env, fetcher.ServiceConfig{})
	waitStored(t, e.env, first, time.Minute)
	waitWatched(t, svc, 1, 10*time.Second)

	e.provider.ExpireAccessTokens()
	e.dovecot.Restart(t)
	second := e.appendMail(2)
	waitStored(t, e.env, second, time.Minute)
	if n := e.provider.TokenRequests("refresh_token"); n != 2 {
		t.Fatalf("%d token requests, want 2 (the first login's and one after the token died)", n)
	}
	teststore.RequireExactlyOnce(t, e.store, e.mailbox, []string{first, second})
}

func admin(t *testing.T, e *env) {
	t.Helper()
	if _, err := e.store.CreateUser(context.Background(), helpdesk.UserInput{
		Email: "admin@example.test", Name: "Admin", Role: "admin", Password: "long-enough-password",
	}); err != nil {
		t.Fatal(err)
	}
}

// requireAlerts checks the outbox holds n "must be reconnected" alerts
// and no "fetching is failing" one.
func requireAlerts(t *testing.T, e *env, n int) {
	t.Helper()
	alerts, err := e.store.OutboxByKind(context.Background(), "alert", 100)
	if err != nil {
		t.Fatal(err)
	}
	reconnect := 0
	for _, a := range alerts {
		if !strings.Contains(a.Subject, "must be reconnected") {
			t.Fatalf("unexpected alert %q", a.Subject)
		}
		reconnect++
	}
	if reconnect != n {
		t.Fatalf("%d reconnect alerts, want %d", reconnect, n)
	}
}

// A refused token leaves go-imap inside AUTHENTICATE; Dial closes the
// connection instead of leaving it open: the server logs at once that
// the client left in the middle of SASL (not after its auth timeout).
func TestOAuth2RefusedTokenClosesTheConnection(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	e := setupOAuth(t, "sqlite")
	m, err := e.store.Mailbox(context.Background(), e.mailbox)
	if err != nil {
		t.Fatal(err)
	}
	s, err := fetcher.Dial(context.Background(), m, fetcher.Login{AccessToken: "not-a-token"}, nil)
	if err == nil {
		s.Close()
		t.Fatal("a made-up token was accepted")
	}
	if !strings.Contains(err.Error(), "rejected the access token") {
		t.Fatalf("refused token: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(readFile(t, e.dovecot.LogPath()), "client didn't finish SASL auth") {
		if time.Now().After(deadline) {
			t.Fatalf("the connection stayed open after the refused token:\n%s", readFile(t, e.dovecot.LogPath()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
