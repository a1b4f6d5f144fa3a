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

// CreateUser validates and stores a user with an argon2id password hash.
func (s *Store) CreateUser(ctx context.Context, in helpdesk.UserInput) (*helpdesk.User, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	hash, err := s.hashCost.Hash(in.Password)
	if err != nil {
		return nil, err
	}
	var u helpdesk.User
	err = s.userQ.CreateUser.GetContext(ctx, &u, in.Email, in.Name, in.Role, hash, now())
	if isUniqueViolation(err) {
		return nil, &helpdesk.ValidationError{Fields: map[string]string{"email": "another user already has this address"}}
	}
	if err != nil {
		return nil, fmt.Errorf("insert user: %w", err)
	}
	return &u, nil
}

// User returns one user.
func (s *Store) User(ctx context.Context, id int64) (*helpdesk.User, error) {
	var u helpdesk.User
	err := s.userQ.User.GetContext(ctx, &u, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %d: %w", id, helpdesk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %d: %w", id, err)
	}
	return &u, nil
}

// UserByEmail returns the user with this address.
func (s *Store) UserByEmail(ctx context.Context, email string) (*helpdesk.User, error) {
	var u helpdesk.User
	email = strings.ToLower(strings.TrimSpace(email))
	err := s.userQ.UserByEmail.GetContext(ctx, &u, email)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", email, helpdesk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %q: %w", email, err)
	}
	return &u, nil
}

// Users lists all users by e-mail address.
func (s *Store) Users(ctx context.Context) ([]helpdesk.User, error) {
	var us []helpdesk.User
	if err := s.userQ.Users.SelectContext(ctx, &us); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// Authenticate checks an e-mail address and password. Unknown addresses
// cost as much time as wrong passwords.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*helpdesk.User, error) {
	var row struct {
		helpdesk.User
		PasswordHash string `db:"password_hash"`
	}
	email = strings.ToLower(strings.TrimSpace(email))
	err := s.userQ.UserWithPassword.GetContext(ctx, &row, email)
	if errors.Is(err, sql.ErrNoRows) {
		_ = secret.CheckPassword(secret.DummyHash, password)
		return nil, helpdesk.ErrBadCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if !secret.CheckPassword(row.PasswordHash, password) {
		return nil, helpdesk.ErrBadCredentials
	}
	return &row.User, nil
}

// UserMailboxIDs lists the mailboxes an agent works on.
func (s *Store) UserMailboxIDs(ctx context.Context, userID int64) ([]int64, error) {
	ids := []int64{}
	err := s.userQ.UserMailboxIDs.SelectContext(ctx, &ids, userID)
	if err != nil {
		return nil, fmt.Errorf("list mailboxes of user %d: %w", userID, err)
	}
	return ids, nil
}

// SetUserMailboxes replaces the mailboxes an agent works on.
func (s *Store) SetUserMailboxes(ctx context.Context, userID int64, mailboxIDs []int64) error {
	return s.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, s.userQ.ClearUserMailboxes, userID); err != nil {
			return fmt.Errorf("clear mailboxes of user %d: %w", userID, err)
		}
		for _, id := range mailboxIDs {
			_, err := t.exec(ctx, s.userQ.AddUserMailbox, userID, id)
			if isForeignKeyViolation(err) {
				return &helpdesk.ValidationError{Fields: map[string]string{"mailboxes": fmt.Sprintf("no user %d or no mailbox %d", userID, id)}}
			}
			if err != nil {
				return fmt.Errorf("add mailbox %d to user %d: %w", id, userID, err)
			}
		}
		return nil
	})
}
