package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/secret"
	"github.com/jmoiron/sqlx"
)

const userColumns = `id, email, name, role, notify_new_conversation, notify_customer_reply, notify_assigned, created_at`

// userColumnsOf is userColumns qualified by a table alias, for joins.
func userColumnsOf(alias string) string {
	cols := strings.Split(userColumns, ", ")
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

// CreateUser validates and stores a user with an argon2id password hash.
func (s *Store) CreateUser(ctx context.Context, in helpdesk.UserInput) (*helpdesk.User, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	hash, err := secret.HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	var u helpdesk.User
	err = s.db.GetContext(ctx, &u, s.db.Rebind(`INSERT INTO users (email, name, role, password_hash, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING `+userColumns), in.Email, in.Name, in.Role, hash, now())
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
	err := s.db.GetContext(ctx, &u, s.db.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ?`), id)
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
	err := s.db.GetContext(ctx, &u, s.db.Rebind(`SELECT `+userColumns+` FROM users WHERE email = ?`), email)
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
	if err := s.db.SelectContext(ctx, &us, `SELECT `+userColumns+` FROM users ORDER BY email`); err != nil {
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
	err := s.db.GetContext(ctx, &row, s.db.Rebind(`SELECT `+userColumns+`, password_hash FROM users WHERE email = ?`), email)
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
	err := s.db.SelectContext(ctx, &ids, s.db.Rebind(`SELECT mailbox_id FROM user_mailboxes WHERE user_id = ? ORDER BY mailbox_id`), userID)
	if err != nil {
		return nil, fmt.Errorf("list mailboxes of user %d: %w", userID, err)
	}
	return ids, nil
}

// SetUserMailboxes replaces the mailboxes an agent works on.
func (s *Store) SetUserMailboxes(ctx context.Context, userID int64, mailboxIDs []int64) error {
	return s.inSQLTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM user_mailboxes WHERE user_id = ?`), userID); err != nil {
			return fmt.Errorf("clear mailboxes of user %d: %w", userID, err)
		}
		for _, id := range mailboxIDs {
			_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO user_mailboxes (user_id, mailbox_id) VALUES (?, ?)
				ON CONFLICT DO NOTHING`), userID, id)
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
