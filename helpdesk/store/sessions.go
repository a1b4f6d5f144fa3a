package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/secret"
)

// A session is a signed-in browser. The cookie holds a random token; the
// database holds only its SHA-256, so a leaked database cannot sign anyone
// in. Each session has its own CSRF token for the forms it is shown.

// CreateSession signs a user in for ttl and returns the cookie token.
func (s *Store) CreateSession(ctx context.Context, userID int64, ttl time.Duration) (token string, sess *helpdesk.Session, err error) {
	token = secret.NewToken()
	csrf := secret.NewToken()
	t := now()
	_, err = s.userQ.CreateSession.ExecContext(ctx, secret.HashToken(token), userID, csrf, t, t.Add(ttl))
	if err != nil {
		return "", nil, fmt.Errorf("create session of user %d: %w", userID, err)
	}
	return token, &helpdesk.Session{CSRFToken: csrf, ExpiresAt: t.Add(ttl)}, nil
}

// SessionByToken returns a live session and its user; ErrNotFound when the
// token is unknown or expired.
func (s *Store) SessionByToken(ctx context.Context, token string) (*helpdesk.Session, error) {
	if token == "" || len(token) > 100 {
		return nil, fmt.Errorf("session: %w", helpdesk.ErrNotFound)
	}
	var row struct {
		helpdesk.User
		CSRFToken string    `db:"csrf_token"`
		ExpiresAt time.Time `db:"expires_at"`
	}
	err := s.userQ.SessionByToken.GetContext(ctx, &row, secret.HashToken(token), now())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session: %w", helpdesk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	return &helpdesk.Session{User: &row.User, CSRFToken: row.CSRFToken, ExpiresAt: row.ExpiresAt}, nil
}

// DeleteSession signs a browser out; an unknown token is not an error.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	if _, err := s.userQ.DeleteSession.ExecContext(ctx, secret.HashToken(token)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions past their expiry.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := s.userQ.DeleteExpiredSessions.ExecContext(ctx, now())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}
