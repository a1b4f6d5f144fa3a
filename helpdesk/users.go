package helpdesk

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/argon2"
)

// ErrBadCredentials: the e-mail address or the password is wrong. It does
// not say which.
var ErrBadCredentials = errors.New("wrong e-mail address or password")

// Roles of users.
const (
	RoleAdmin = "admin"
	RoleAgent = "agent"
)

// User is a person who signs in: an agent answers conversations, an admin
// also runs the mailboxes.
type User struct {
	ID                    int64     `db:"id" json:"id"`
	Email                 string    `db:"email" json:"email"`
	Name                  string    `db:"name" json:"name"`
	Role                  string    `db:"role" json:"role"`
	NotifyNewConversation bool      `db:"notify_new_conversation" json:"notify_new_conversation"`
	NotifyCustomerReply   bool      `db:"notify_customer_reply" json:"notify_customer_reply"`
	NotifyAssigned        bool      `db:"notify_assigned" json:"notify_assigned"`
	CreatedAt             time.Time `db:"created_at" json:"created_at"`
}

// IsAdmin reports whether the user may run mailboxes and see the status page.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdmin }

// UserInput is a new user.
type UserInput struct {
	Email    string
	Name     string
	Role     string // admin or agent
	Password string // at least 10 characters
}

const userColumns = `id, email, name, role, notify_new_conversation, notify_customer_reply, notify_assigned, created_at`

// userColumnsOf is userColumns qualified by a table alias, for joins.
func userColumnsOf(alias string) string {
	cols := strings.Split(userColumns, ", ")
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

// Validate checks every field and reports all problems at once.
func (in *UserInput) Validate() error {
	in.Email = strings.ToLower(strings.TrimSpace(in.Email))
	in.Name = strings.TrimSpace(in.Name)
	bad := map[string]string{}
	if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email || len(in.Email) > 254 {
		bad["email"] = "must be a plain e-mail address like agent@example.com"
	}
	if in.Name == "" || len(in.Name) > 200 || strings.ContainsAny(in.Name, "\r\n\x00") {
		bad["name"] = "required, one line, at most 200 characters"
	}
	switch in.Role {
	case RoleAdmin, RoleAgent:
	default:
		bad["role"] = "must be admin or agent"
	}
	if n := len([]rune(in.Password)); n < 10 || len(in.Password) > 1024 {
		bad["password"] = "must be 10 to 1024 characters"
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

// CreateUser validates and stores a user with an argon2id password hash.
func (s *Store) CreateUser(ctx context.Context, in UserInput) (*User, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	var u User
	err = s.db.GetContext(ctx, &u, s.db.Rebind(`INSERT INTO users (email, name, role, password_hash, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING `+userColumns), in.Email, in.Name, in.Role, hash, now())
	if isUniqueViolation(err) {
		return nil, &ValidationError{Fields: map[string]string{"email": "another user already has this address"}}
	}
	if err != nil {
		return nil, fmt.Errorf("insert user: %w", err)
	}
	return &u, nil
}

// User returns one user.
func (s *Store) User(ctx context.Context, id int64) (*User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, s.db.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %d: %w", id, err)
	}
	return &u, nil
}

// UserByEmail returns the user with this address.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	var u User
	email = strings.ToLower(strings.TrimSpace(email))
	err := s.db.GetContext(ctx, &u, s.db.Rebind(`SELECT `+userColumns+` FROM users WHERE email = ?`), email)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", email, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %q: %w", email, err)
	}
	return &u, nil
}

// Users lists all users by e-mail address.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	var us []User
	if err := s.db.SelectContext(ctx, &us, `SELECT `+userColumns+` FROM users ORDER BY email`); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// Authenticate checks an e-mail address and password. Unknown addresses
// cost as much time as wrong passwords.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*User, error) {
	var row struct {
		User
		PasswordHash string `db:"password_hash"`
	}
	email = strings.ToLower(strings.TrimSpace(email))
	err := s.db.GetContext(ctx, &row, s.db.Rebind(`SELECT `+userColumns+`, password_hash FROM users WHERE email = ?`), email)
	if errors.Is(err, sql.ErrNoRows) {
		_ = CheckPassword(dummyHash, password)
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if !CheckPassword(row.PasswordHash, password) {
		return nil, ErrBadCredentials
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
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM user_mailboxes WHERE user_id = ?`), userID); err != nil {
			return fmt.Errorf("clear mailboxes of user %d: %w", userID, err)
		}
		for _, id := range mailboxIDs {
			_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO user_mailboxes (user_id, mailbox_id) VALUES (?, ?)
				ON CONFLICT DO NOTHING`), userID, id)
			if err != nil && strings.Contains(err.Error(), "FOREIGN KEY") || err != nil && strings.Contains(err.Error(), "SQLSTATE 23503") {
				return &ValidationError{Fields: map[string]string{"mailboxes": fmt.Sprintf("no user %d or no mailbox %d", userID, id)}}
			}
			if err != nil {
				return fmt.Errorf("add mailbox %d to user %d: %w", id, userID, err)
			}
		}
		return nil
	})
}

// Password hashes are argon2id in the PHC string format.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB; the OWASP minimum for argon2id
	argonThreads = 1
	argonKeyLen  = 32
)

// dummyHash is checked against when the user does not exist.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// HashPassword returns an argon2id hash of password with a random salt.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash (in constant time).
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var memory uint32
	var iterations uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &iterations, &threads); err != nil ||
		memory == 0 || memory > 1<<20 || iterations == 0 || iterations > 10 || threads == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, iterations, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
