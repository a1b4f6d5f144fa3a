package fetcher

import (
	"context"
	"errors"
	"fmt"

	"github.com/emersion/go-imap/v2"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// dial opens a session signed in as the mailbox says: with its password,
// or with an OAuth2 access token. A cached token can be dead before its
// expiry (revoked, or the server's clock differs): when the server
// rejects it, dial gets a new one and logs in once more.
func (f *Fetcher) dial(ctx context.Context, m *helpdesk.Mailbox) (*Session, error) {
	if m.IMAPAuth != helpdesk.AuthOAuth2 {
		password, err := f.store.IMAPPassword(m)
		if err != nil {
			return nil, err
		}
		return Dial(ctx, m, Login{Password: password}, f.cfg.TLSConfig)
	}
	token, err := f.tokens.AccessToken(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	s, err := Dial(ctx, m, Login{AccessToken: token}, f.cfg.TLSConfig)
	if err == nil || !tokenRejected(err) {
		return s, err
	}
	f.log.Info("IMAP server rejected the access token: refreshing it", "mailbox", m.ID, "err", err)
	if token, err = f.tokens.Refresh(ctx, m.ID, token); err != nil {
		return nil, err
	}
	return Dial(ctx, m, Login{AccessToken: token}, f.cfg.TLSConfig)
}

// explainTokenLogin adds what a failed token login means where the
// server's answer alone does not say it.
func explainTokenLogin(err error) error {
	var imapErr *imap.Error
	if errors.As(err, &imapErr) && imapErr.Code == imap.ResponseCodeUnavailable {
		return fmt.Errorf("the server could not check the access token (its token validation, e.g. introspection, is unavailable): %w", err)
	}
	return err
}
