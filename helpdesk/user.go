package helpdesk

import (
	"errors"
	"net/mail"
	"strings"
	"time"
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

// Session is a signed-in browser's user and CSRF token.
type Session struct {
	User      *User
	CSRFToken string
	ExpiresAt time.Time
}

// APITokenPrefix starts every API token, so a leaked one is recognisable.
const APITokenPrefix = "hd_"
