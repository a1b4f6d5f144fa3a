package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/secret"
)

// CreateAPIToken makes a new API token for the user with this address and
// returns it; only its SHA-256 is stored, so it is shown once.
func (s *Store) CreateAPIToken(ctx context.Context, email string) (string, error) {
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return "", err
	}
	token := helpdesk.APITokenPrefix + secret.NewToken()
	_, err = s.userQ.CreateAPIToken.ExecContext(ctx, u.ID, secret.HashToken(token), now())
	if err != nil {
		return "", fmt.Errorf("create API token for %s: %w", u.Email, err)
	}
	return token, nil
}

// UserByAPIToken returns the owner of an API token; ErrNotFound when the
// token is unknown.
func (s *Store) UserByAPIToken(ctx context.Context, token string) (*helpdesk.User, error) {
	if !strings.HasPrefix(token, helpdesk.APITokenPrefix) || len(token) > 100 {
		return nil, fmt.Errorf("API token: %w", helpdesk.ErrNotFound)
	}
	var u helpdesk.User
	err := s.userQ.UserByAPIToken.GetContext(ctx, &u, secret.HashToken(token))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("API token: %w", helpdesk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read API token: %w", err)
	}
	return &u, nil
}
