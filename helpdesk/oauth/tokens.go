// Package oauth signs mailboxes in with OAuth2: access tokens from the
// provider's token endpoint for a stored refresh token, and the SASL
// mechanisms (XOAUTH2, OAUTHBEARER) that present them to IMAP and SMTP
// servers.
package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/secret"
)

// CredentialStore is what Tokens needs of the store; *store.Store
// satisfies it.
type CredentialStore interface {
	OAuthCredentials(ctx context.Context, mailboxID int64) (*helpdesk.OAuthCredentials, error)
	ClaimTokenRefresh(ctx context.Context, mailboxID int64, claim string, until time.Time) (bool, error)
	ReleaseTokenRefresh(ctx context.Context, mailboxID int64, claim string) error
	SaveRefreshToken(ctx context.Context, mailboxID, version int64, refreshToken string) (bool, error)
	MarkNeedsReconnect(ctx context.Context, mailboxID, version int64, reason string) (bool, error)
}

// Timings of a refresh.
const (
	// expiryMargin: a cached access token this close to its expiry is
	// replaced before use, so it does not expire during a login.
	expiryMargin = time.Minute
	// refreshTimeout bounds one token request; a refresh claim lasts
	// longer, so it never runs out while its holder still waits.
	refreshTimeout = 20 * time.Second
	claimFor       = 2 * refreshTimeout
	claimPoll      = 100 * time.Millisecond
)

// Tokens hands out access tokens of OAuth2 mailboxes. It caches them in
// memory until shortly before they expire. A refresh is claimed in the
// database first, so that of all instances one at a time uses the stored
// refresh token: a provider that rotates refresh tokens (and refuses a
// used one) never sees the same one twice, and the rotated one is stored
// (compare-and-set on its version) before the next instance reads it.
// When the provider refuses the refresh token (invalid_grant), the
// mailbox is marked "needs reconnect" and no more requests are made until
// an admin connects it again.
type Tokens struct {
	store CredentialStore
	http  *http.Client
	log   *slog.Logger

	mu        sync.Mutex
	mailboxes map[int64]*mailboxTokens
}

// mailboxTokens is one mailbox's cached token; mu makes callers in this
// process wait for one refresh instead of each making their own.
type mailboxTokens struct {
	mu    sync.Mutex
	token *oauth2.Token
}

// NewTokens returns a token cache over store. httpClient may be nil.
func NewTokens(store CredentialStore, httpClient *http.Client, logger *slog.Logger) *Tokens {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: refreshTimeout}
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Tokens{store: store, http: httpClient, log: logger, mailboxes: map[int64]*mailboxTokens{}}
}

func (t *Tokens) of(mailboxID int64) *mailboxTokens {
	t.mu.Lock()
	defer t.mu.Unlock()
	mt := t.mailboxes[mailboxID]
	if mt == nil {
		mt = &mailboxTokens{}
		t.mailboxes[mailboxID] = mt
	}
	return mt
}

// AccessToken returns a cached access token of the mailbox that is not
// about to expire, or a new one.
func (t *Tokens) AccessToken(ctx context.Context, mailboxID int64) (string, error) {
	mt := t.of(mailboxID)
	mt.mu.Lock()
	defer mt.mu.Unlock()
	if tok := mt.token; tok != nil && (tok.Expiry.IsZero() || time.Until(tok.Expiry) > expiryMargin) {
		return tok.AccessToken, nil
	}
	return t.refresh(ctx, mailboxID, mt)
}

// Refresh returns a new access token after a server rejected this one (a
// token can die before its expires_in), unless another caller replaced it
// meanwhile.
func (t *Tokens) Refresh(ctx context.Context, mailboxID int64, rejected string) (string, error) {
	mt := t.of(mailboxID)
	mt.mu.Lock()
	defer mt.mu.Unlock()
	if mt.token != nil && mt.token.AccessToken != rejected {
		return mt.token.AccessToken, nil
	}
	return t.refresh(ctx, mailboxID, mt)
}

// Forget drops the cached token (after an admin connected the mailbox again).
func (t *Tokens) Forget(mailboxID int64) {
	mt := t.of(mailboxID)
	mt.mu.Lock()
	mt.token = nil
	mt.mu.Unlock()
}

// EndpointError is a failed token request, with the provider's answer.
type EndpointError struct {
	TokenURL string
	Err      error
}

func (e *EndpointError) Error() string {
	return fmt.Sprintf("token endpoint %s: %v", e.TokenURL, e.Err)
}
func (e *EndpointError) Unwrap() error { return e.Err }

func (t *Tokens) refresh(ctx context.Context, mailboxID int64, mt *mailboxTokens) (string, error) {
	mt.token = nil
	c, err := t.store.OAuthCredentials(ctx, mailboxID)
	if err != nil {
		return "", err
	}
	if c.NeedsReconnect {
		return "", fmt.Errorf("mailbox %d: %w", mailboxID, helpdesk.ErrNeedsReconnect)
	}
	release, err := t.claim(ctx, mailboxID)
	if err != nil {
		return "", err
	}
	defer release()
	// Read again under the claim: the previous holder may have rotated it.
	if c, err = t.store.OAuthCredentials(ctx, mailboxID); err != nil {
		return "", err
	}
	if c.NeedsReconnect {
		return "", fmt.Errorf("mailbox %d: %w", mailboxID, helpdesk.ErrNeedsReconnect)
	}
	tok, err := t.request(ctx, c)
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
		reason := fmt.Sprintf("%s refused the refresh token: %s %s", c.TokenURL, re.ErrorCode, re.ErrorDescription)
		marked, merr := t.store.MarkNeedsReconnect(context.WithoutCancel(ctx), mailboxID, c.Version, reason)
		if merr != nil {
			return "", errors.Join(err, merr)
		}
		if marked {
			t.log.Warn("oauth2: mailbox must be reconnected", "mailbox", mailboxID, "reason", reason)
		}
		return "", fmt.Errorf("mailbox %d: %w (%s)", mailboxID, helpdesk.ErrNeedsReconnect, reason)
	}
	if err != nil {
		return "", &EndpointError{TokenURL: c.TokenURL, Err: err}
	}
	if tok.RefreshToken != "" && tok.RefreshToken != c.RefreshToken {
		// Saved at once, before the token is used: the old one may be dead now.
		saved, err := t.store.SaveRefreshToken(context.WithoutCancel(ctx), mailboxID, c.Version, tok.RefreshToken)
		if err != nil {
			return "", err
		}
		if !saved {
			return "", fmt.Errorf("mailbox %d: its OAuth2 sign-in changed during a token refresh; try again", mailboxID)
		}
	}
	mt.token = tok
	return tok.AccessToken, nil
}

// request asks the token endpoint for an access token.
func (t *Tokens) request(ctx context.Context, c *helpdesk.OAuthCredentials) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	cfg := oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: c.Scopes,
		Endpoint: oauth2.Endpoint{TokenURL: c.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, t.http)
	return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: c.RefreshToken}).Token()
}

// claim waits until this process may refresh the mailbox's token: no
// other instance holds the claim (or its claim ran out). The returned func
// gives it back.
func (t *Tokens) claim(ctx context.Context, mailboxID int64) (func(), error) {
	id := secret.NewToken()
	for {
		ok, err := t.store.ClaimTokenRefresh(ctx, mailboxID, id, time.Now().Add(claimFor))
		if err != nil {
			return nil, err
		}
		if ok {
			return func() {
				if err := t.store.ReleaseTokenRefresh(context.WithoutCancel(ctx), mailboxID, id); err != nil {
					t.log.Warn("oauth2: release refresh claim", "mailbox", mailboxID, "err", err)
				}
			}, nil
		}
		timer := time.NewTimer(claimPoll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}
