package fetcher_test

import (
	"context"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/helpdesk"
)

// With security none, the password goes to another host only when the
// mailbox allows it: otherwise every dial (the fetch, "Test connection")
// refuses
// before they look the host up. (.invalid never resolves: an attempt to
// connect fails with a lookup error instead.)
func TestPlaintextLoginToAnotherHostIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := &helpdesk.Mailbox{ID: 7, IMAPHost: "imap.invalid", IMAPPort: 143, IMAPSecurity: "none",
		IMAPUser: "support", Folders: []string{"INBOX"}}
	const refused = "refusing to send the IMAP password unencrypted"
	if _, err := fetcher.Dial(ctx, m, fetcher.Login{Password: "the-password"}, nil); err == nil || !strings.Contains(err.Error(), refused) {
		t.Errorf("Dial: %v, want a refusal", err)
	}
	// "Test connection" and OAuth2 sign-ins dial the same way: a token
	// in clear is refused too.
	if _, err := fetcher.Dial(ctx, m, fetcher.Login{AccessToken: "the-token"}, nil); err == nil || !strings.Contains(err.Error(), refused) {
		t.Errorf("Dial with a token: %v, want a refusal", err)
	}
	m.IMAPAllowInsecure = true
	if _, err := fetcher.Dial(ctx, m, fetcher.Login{Password: "the-password"}, nil); err == nil || strings.Contains(err.Error(), refused) || !strings.Contains(err.Error(), "imap.invalid") {
		t.Errorf("Dial with unencrypted login allowed: %v, want an attempt to connect", err)
	}
	for _, security := range []string{"tls", "starttls"} {
		m.IMAPSecurity, m.IMAPAllowInsecure = security, false
		if _, err := fetcher.Dial(ctx, m, fetcher.Login{Password: "the-password"}, nil); err == nil || strings.Contains(err.Error(), refused) {
			t.Errorf("Dial with %s: %v, want an attempt to connect", security, err)
		}
	}
}
