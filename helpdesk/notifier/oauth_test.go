package notifier

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/oauth"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// Mail of an OAuth2 mailbox goes out over SMTP with AUTH XOAUTH2 and the
// mailbox's access token, checked by the server: a token that died while
// cached is refreshed and the mail sent; once consent is revoked the mail
// waits in the outbox (not failed) saying the mailbox must be
// reconnected.
func TestOAuth2MailboxSendsWithXOAuth2(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := testserver.StartOAuthProvider(t)
	sink := testserver.StartSMTP(t)
	sink.RequireXOAuth2(p.ValidAccessToken)
	st := teststore.Open(t, "sqlite")
	mb, err := st.CreateMailbox(ctx, helpdesk.MailboxInput{
		Name: "Support", Email: "help@alpha.example", IMAPHost: "127.0.0.1", IMAPPort: 143, IMAPSecurity: "none",
		IMAPUser: "help@alpha.example", IMAPAuth: helpdesk.AuthOAuth2,
		SMTPURL: "smtp://help%40alpha.example@" + sink.Addr(),
		OAuth: helpdesk.OAuthInput{TokenURL: p.TokenURL(), ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			RefreshToken: p.Grant("help@alpha.example")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, helpdesk.UserInput{Email: "admin@staff.example", Name: "Admin",
		Role: helpdesk.RoleAdmin, Password: "password-123456"}); err != nil {
		t.Fatal(err)
	}
	// The mailbox's fetch alerts are its mail: failing, recovered, failing.
	enqueue := func(i int) {
		t.Helper()
		failures := []int{helpdesk.FetchAlertAfter, 0, helpdesk.FetchAlertAfter}[i-1]
		if err := st.UpdateFetchAlert(ctx, mb, failures); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Instance: "n1", Logger: discardLogger(), PollEvery: 50 * time.Millisecond,
		RetryBase: 10 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		Tokens: oauth.NewTokens(st, nil, discardLogger())}
	start(t, st, cfg)

	enqueue(1)
	msgs := sink.WaitMessages(t, 1, 30*time.Second)
	if msgs[0].AuthMech != "XOAUTH2" || msgs[0].AuthUser != "help@alpha.example" {
		t.Fatalf("sent with %s as %q, want XOAUTH2 as the mailbox", msgs[0].AuthMech, msgs[0].AuthUser)
	}

	// The next mail goes over a new session, which needs a token: the
	// cached one, dead by then.
	sink.WaitNoSessions(t, 30*time.Second)
	p.ExpireAccessTokens()
	enqueue(2)
	sink.WaitMessages(t, 2, 30*time.Second)
	if n := p.TokenRequests("refresh_token"); n != 2 {
		t.Fatalf("%d token requests, want 2 (one more after the cached token died)", n)
	}

	sink.WaitNoSessions(t, 30*time.Second)
	p.Revoke("help@alpha.example")
	p.ExpireAccessTokens()
	enqueue(3)
	deadline := time.Now().Add(30 * time.Second)
	for {
		stats, err := st.OutboxStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		alerts, err := st.OutboxByKind(ctx, "alert", 10)
		if err != nil {
			t.Fatal(err)
		}
		var waiting *helpdesk.OutboxMessage
		for i := range alerts {
			if strings.Contains(alerts[i].LastError, "must be reconnected") {
				waiting = &alerts[i]
			}
		}
		if waiting != nil {
			if stats.Failed != 0 || len(sink.Messages()) != 2 {
				t.Fatalf("outbox %+v, %d sent: the mail must wait, not fail or go out", stats, len(sink.Messages()))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox %+v: want the third mail waiting because the mailbox must be reconnected", alerts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
