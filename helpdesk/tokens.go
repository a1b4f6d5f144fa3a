package helpdesk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// APITokenPrefix starts every API token, so a leaked one is recognisable.
const APITokenPrefix = "hd_"

// CreateAPIToken makes a new API token for the user with this address and
// returns it; only its SHA-256 is stored, so it is shown once.
func (s *Store) CreateAPIToken(ctx context.Context, email string) (string, error) {
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return "", err
	}
	token := APITokenPrefix + NewToken()
	_, err = s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO api_tokens (user_id, token_hash, created_at) VALUES (?, ?, ?)`),
		u.ID, hashToken(token), now())
	if err != nil {
		return "", fmt.Errorf("create API token for %s: %w", u.Email, err)
	}
	return token, nil
}

// UserByAPIToken returns the owner of an API token; ErrNotFound when the
// token is unknown.
func (s *Store) UserByAPIToken(ctx context.Context, token string) (*User, error) {
	if !strings.HasPrefix(token, APITokenPrefix) || len(token) > 100 {
		return nil, fmt.Errorf("API token: %w", ErrNotFound)
	}
	var u User
	err := s.db.GetContext(ctx, &u, s.db.Rebind(`SELECT `+userColumnsOf("u")+`
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`), hashToken(token))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("API token: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read API token: %w", err)
	}
	return &u, nil
}
