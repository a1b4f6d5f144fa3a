package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/secret"
)

// tokenUseInterval is how often a token's last use is written at most:
// a busy script does not write on every request.
const tokenUseInterval = time.Minute

// CreateAPIToken makes a new named API token for a user who is not
// disabled and returns its secret; only the secret's SHA-256 is stored, so
// it is shown once.
func (s *Store) CreateAPIToken(ctx context.Context, userID int64, in helpdesk.APITokenInput) (string, *helpdesk.APIToken, error) {
	if err := in.Validate(); err != nil {
		return "", nil, err
	}
	u, err := s.User(ctx, userID)
	if err != nil {
		return "", nil, err
	}
	if u.Disabled() {
		return "", nil, &helpdesk.ValidationError{Fields: map[string]string{"user": u.Email + " is disabled"}}
	}
	tk := helpdesk.APIToken{UserID: u.ID, UserEmail: u.Email, UserName: u.Name, Name: in.Name, CreatedAt: now()}
	if in.ExpiresInDays > 0 {
		exp := tk.CreatedAt.AddDate(0, 0, in.ExpiresInDays)
		tk.ExpiresAt = &exp
	}
	token := helpdesk.APITokenPrefix + secret.NewToken()
	err = s.userQ.CreateAPIToken.GetContext(ctx, &tk.ID, u.ID, tk.Name, secret.HashToken(token), tk.CreatedAt, tk.ExpiresAt)
	if err != nil {
		return "", nil, fmt.Errorf("create API token for %s: %w", u.Email, err)
	}
	return token, &tk, nil
}

// UserByAPIToken returns the owner of a live API token and notes its use;
// ErrNotFound when the token is unknown, revoked or expired or its owner
// is disabled.
func (s *Store) UserByAPIToken(ctx context.Context, token string) (*helpdesk.User, error) {
	if !strings.HasPrefix(token, helpdesk.APITokenPrefix) || len(token) > 100 {
		return nil, fmt.Errorf("API token: %w", helpdesk.ErrNotFound)
	}
	var row struct {
		helpdesk.User
		TokenID    int64      `db:"token_id"`
		LastUsedAt *time.Time `db:"last_used_at"`
	}
	t := now()
	err := s.userQ.UserByAPIToken.GetContext(ctx, &row, secret.HashToken(token), t)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("API token: %w", helpdesk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read API token: %w", err)
	}
	if row.LastUsedAt == nil || t.Sub(*row.LastUsedAt) >= tokenUseInterval {
		if _, err := s.userQ.TouchAPIToken.ExecContext(ctx, t, row.TokenID, t.Add(-tokenUseInterval)); err != nil {
			return nil, fmt.Errorf("note use of API token %d: %w", row.TokenID, err)
		}
	}
	return &row.User, nil
}

// APITokens lists the tokens of one user, or of everyone with userID 0,
// by owner's address and age.
func (s *Store) APITokens(ctx context.Context, userID int64) ([]helpdesk.APIToken, error) {
	tks := []helpdesk.APIToken{}
	if err := s.userQ.APITokens.SelectContext(ctx, &tks, userID, userID); err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	return tks, nil
}

// RevokeAPIToken deletes a token of ownerID, or of anyone with ownerID 0;
// it stops working at once. ErrNotFound when there is no such token.
func (s *Store) RevokeAPIToken(ctx context.Context, tokenID, ownerID int64) error {
	res, err := s.userQ.RevokeAPIToken.ExecContext(ctx, tokenID, ownerID, ownerID)
	if err != nil {
		return fmt.Errorf("revoke API token %d: %w", tokenID, err)
	}
	return oneRowOrNotFound(res, fmt.Sprintf("API token %d", tokenID))
}
