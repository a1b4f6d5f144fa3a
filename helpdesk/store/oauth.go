package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// insertMailboxOAuth stores the OAuth2 sign-in of a new mailbox. Without
// a refresh token the mailbox waits for an admin to connect it.
func (s *Store) insertMailboxOAuth(ctx context.Context, t *tx, mailboxID int64, in helpdesk.OAuthInput) error {
	secretEnc, refreshEnc, err := s.encryptOAuthSecrets(in)
	if err != nil {
		return err
	}
	waiting, reason := in.RefreshToken == "", ""
	if waiting {
		reason = "not connected yet"
	}
	_, err = t.exec(ctx, s.oauthQ.InsertMailboxOAuth, mailboxID, in.Provider, in.AuthURL, in.TokenURL, in.Scopes,
		in.ClientID, secretEnc, refreshEnc, in.Account, waiting, reason, now())
	if err != nil {
		return fmt.Errorf("insert OAuth2 sign-in of mailbox %d: %w", mailboxID, err)
	}
	return nil
}

func (s *Store) encryptOAuthSecrets(in helpdesk.OAuthInput) (clientSecret, refreshToken string, err error) {
	if s.secrets == nil {
		return "", "", errors.New("no secret key configured: cannot store OAuth2 tokens")
	}
	if in.ClientSecret != "" {
		if clientSecret, err = s.secrets.Encrypt(in.ClientSecret); err != nil {
			return "", "", err
		}
	}
	if in.RefreshToken != "" {
		if refreshToken, err = s.secrets.Encrypt(in.RefreshToken); err != nil {
			return "", "", err
		}
	}
	return clientSecret, refreshToken, nil
}

// mailboxOAuth reads a mailbox's OAuth2 sign-in; nil for a password mailbox.
func (s *Store) mailboxOAuth(ctx context.Context, mailboxID int64) (*helpdesk.MailboxOAuth, error) {
	var o helpdesk.MailboxOAuth
	err := s.oauthQ.MailboxOAuth.GetContext(ctx, &o, mailboxID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get OAuth2 sign-in of mailbox %d: %w", mailboxID, err)
	}
	return &o, nil
}

// setAuth fills IMAPAuth and OAuth of a mailbox read from the mailboxes table.
func setAuth(m *helpdesk.Mailbox, o *helpdesk.MailboxOAuth) {
	m.IMAPAuth, m.OAuth = "", o
	if o != nil {
		m.IMAPAuth = helpdesk.AuthOAuth2
	}
}

// fillAuthOfAll sets IMAPAuth and OAuth of every listed mailbox.
func (s *Store) fillAuthOfAll(ctx context.Context, ms []helpdesk.Mailbox) error {
	var rows []struct {
		MailboxID int64 `db:"mailbox_id"`
		helpdesk.MailboxOAuth
	}
	if err := s.oauthQ.AllMailboxOAuth.SelectContext(ctx, &rows); err != nil {
		return fmt.Errorf("list OAuth2 sign-ins: %w", err)
	}
	byID := make(map[int64]*helpdesk.MailboxOAuth, len(rows))
	for i := range rows {
		byID[rows[i].MailboxID] = &rows[i].MailboxOAuth
	}
	for i := range ms {
		setAuth(&ms[i], byID[ms[i].ID])
	}
	return nil
}

// OAuthCredentials decrypts what the token refresher needs of a mailbox.
func (s *Store) OAuthCredentials(ctx context.Context, mailboxID int64) (*helpdesk.OAuthCredentials, error) {
	o, err := s.mailboxOAuth(ctx, mailboxID)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, fmt.Errorf("mailbox %d does not sign in with OAuth2: %w", mailboxID, helpdesk.ErrNotFound)
	}
	if s.secrets == nil {
		return nil, errors.New("no secret key configured: cannot read OAuth2 tokens")
	}
	c := &helpdesk.OAuthCredentials{MailboxID: mailboxID, TokenURL: o.TokenURL, ClientID: o.ClientID,
		Scopes: strings.Fields(o.Scopes), Version: o.TokenVersion, NeedsReconnect: o.NeedsReconnect}
	if c.ClientSecret, err = s.secrets.Decrypt(o.ClientSecretEnc); err != nil {
		return nil, fmt.Errorf("OAuth2 client secret of mailbox %d: %w", mailboxID, err)
	}
	if c.RefreshToken, err = s.secrets.Decrypt(o.RefreshTokenEnc); err != nil {
		return nil, fmt.Errorf("OAuth2 refresh token of mailbox %d: %w", mailboxID, err)
	}
	return c, nil
}

// SaveRefreshToken stores a rotated refresh token, only if the stored one
// is still the version it replaces: false when another refresher stored a
// newer one first (theirs stays) or the mailbox awaits reconnecting.
func (s *Store) SaveRefreshToken(ctx context.Context, mailboxID, version int64, refreshToken string) (bool, error) {
	_, enc, err := s.encryptOAuthSecrets(helpdesk.OAuthInput{RefreshToken: refreshToken})
	if err != nil {
		return false, err
	}
	res, err := s.oauthQ.SaveRefreshToken.ExecContext(ctx, enc, now(), mailboxID, version, false)
	if err != nil {
		return false, fmt.Errorf("save refresh token of mailbox %d: %w", mailboxID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// MarkNeedsReconnect records that the provider refused the refresh token
// of this version, and enqueues one alert mail to the admins in the same
// transaction. It changes nothing (false) when the token was replaced
// meanwhile (a refresher rotated it, an admin reconnected) or the mailbox
// is marked already, so the alert goes out once per refused token.
func (s *Store) MarkNeedsReconnect(ctx context.Context, mailboxID, version int64, reason string) (bool, error) {
	marked := false
	err := s.inTx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, s.oauthQ.MarkNeedsReconnect, true, helpdesk.Truncate(reason, 2000), now(), mailboxID, version, false)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		marked = true
		return enqueueReconnectAlert(ctx, t, mailboxID, version, reason)
	})
	if err != nil {
		return false, fmt.Errorf("mark mailbox %d for reconnecting: %w", mailboxID, err)
	}
	return marked, nil
}

func enqueueReconnectAlert(ctx context.Context, t *tx, mailboxID, version int64, reason string) error {
	var mb mailboxInfo
	if err := t.get(ctx, &mb, t.q().MailboxInfo, mailboxID); err != nil {
		return fmt.Errorf("read mailbox: %w", err)
	}
	to, err := adminRecipients(ctx, t)
	if err != nil || len(to) == 0 {
		return err
	}
	name := helpdesk.OneLine(mb.Name, 200)
	_, err = enqueueTx(ctx, t, helpdesk.OutboundMail{
		Kind:      "alert",
		DedupKey:  fmt.Sprintf("alert:reconnect:%d:%d", mailboxID, version),
		MailboxID: mailboxID,
		From:      mb.Email,
		To:        to,
		Headers:   t.store.signer.AutomaticHeaders("auto-generated", mb.Email),
		Subject:   helpdesk.OneLine(fmt.Sprintf("Mailbox %s (%s) must be reconnected", name, mb.Email), 900),
		BodyText: fmt.Sprintf("The OAuth2 provider of mailbox %q (%s) no longer accepts the helpdesk's sign-in "+
			"(consent revoked, password changed or token expired).\n\nProvider's answer: %s\n\n"+
			"Mail to this address stays on the server and is not fetched, and replies from it wait in the outbox, "+
			"until an admin connects the mailbox again: admin page of the mailbox, Connect.\n",
			name, mb.Email, helpdesk.Truncate(reason, 2000)),
	})
	return err
}

// adminRecipients are the admins' addresses fit for a To header.
func adminRecipients(ctx context.Context, t *tx) ([]string, error) {
	var admins []string
	if err := t.sel(ctx, &admins, t.q().AdminEmails); err != nil {
		return nil, fmt.Errorf("list admins: %w", err)
	}
	var to []string
	for _, a := range admins {
		if !strings.ContainsAny(a, "\r\n,") && strings.Contains(a, "@") {
			to = append(to, a)
		}
	}
	return to, nil
}

// ConnectMailboxOAuth stores the sign-in an admin just connected (a new
// refresh token under a new version; a password mailbox switches to
// OAuth2), clears "needs reconnect" and tells the fetch service, which
// fetches what waited on the server.
func (s *Store) ConnectMailboxOAuth(ctx context.Context, mailboxID int64, in helpdesk.OAuthInput) error {
	bad := map[string]string{}
	in.Validate(bad)
	if in.RefreshToken == "" {
		bad["oauth_refresh_token"] = "the provider gave no refresh token"
	}
	if len(bad) > 0 {
		return &helpdesk.ValidationError{Fields: bad}
	}
	secretEnc, refreshEnc, err := s.encryptOAuthSecrets(in)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, s.oauthQ.ConnectMailboxOAuth, in.Provider, in.AuthURL, in.TokenURL, in.Scopes, in.ClientID,
			secretEnc, refreshEnc, in.Account, false, now(), mailboxID)
		if err != nil {
			return fmt.Errorf("connect mailbox %d: %w", mailboxID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			// A password mailbox switches to OAuth2.
			if err := s.insertMailboxOAuth(ctx, t, mailboxID, in); err != nil {
				return err
			}
		}
		return s.bumpMailboxesVersion(ctx, t)
	})
}

// ClaimTokenRefresh lets one instance at a time refresh a mailbox's
// access token with its refresh token: true when this claim holds until
// until (no other claim is running).
func (s *Store) ClaimTokenRefresh(ctx context.Context, mailboxID int64, claim string, until time.Time) (bool, error) {
	at := now()
	res, err := s.oauthQ.ClaimTokenRefresh.ExecContext(ctx, claim, until.UTC(), mailboxID, at)
	if err != nil {
		return false, fmt.Errorf("claim token refresh of mailbox %d: %w", mailboxID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReleaseTokenRefresh gives a refresh claim back.
func (s *Store) ReleaseTokenRefresh(ctx context.Context, mailboxID int64, claim string) error {
	if _, err := s.oauthQ.ReleaseTokenRefresh.ExecContext(ctx, mailboxID, claim); err != nil {
		return fmt.Errorf("release token refresh of mailbox %d: %w", mailboxID, err)
	}
	return nil
}
