package helpdesk

import (
	"errors"
	"fmt"
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
	TimeZone              string    `db:"time_zone" json:"time_zone"` // IANA name; the web shows times in it
	CreatedAt             time.Time `db:"created_at" json:"created_at"`
	// DisabledAt is set while the user may not sign in: no session, no
	// API token of theirs is accepted.
	DisabledAt *time.Time `db:"disabled_at" json:"disabled_at,omitempty"`
}

// Location is the user's time zone; UTC when it is not known to this
// machine's time zone database.
func (u *User) Location() *time.Location {
	if u == nil {
		return time.UTC
	}
	loc, err := LoadTimeZone(u.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// LoadTimeZone returns the IANA time zone called name ("Europe/Berlin",
// "UTC"). Only names of the zone database: not "" or "Local", which
// time.LoadLocation would take for UTC and the server's zone.
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

// Disabled reports whether the user is shut out.
func (u *User) Disabled() bool { return u.DisabledAt != nil }

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
	if !ValidRole(in.Role) {
		bad["role"] = "must be admin or agent"
	}
	if msg := PasswordProblem(in.Password); msg != "" {
		bad["password"] = msg
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

// PasswordProblem says what is wrong with a new password, "" if nothing.
func PasswordProblem(p string) string {
	if n := len([]rune(p)); n < 10 || len(p) > 1024 {
		return "must be 10 to 1024 characters"
	}
	return ""
}

// ValidRole reports whether r is a role.
func ValidRole(r string) bool { return r == RoleAdmin || r == RoleAgent }

// Session is a signed-in browser's user and CSRF token.
type Session struct {
	User      *User
	CSRFToken string
	ExpiresAt time.Time
}

// APITokenPrefix starts every API token, so a leaked one is recognisable.
const APITokenPrefix = "hd_"

// APIToken is a named API token as listed: never its secret, which is
// shown once when it is created and stored only as a hash.
type APIToken struct {
	ID         int64      `db:"id" json:"id"`
	UserID     int64      `db:"user_id" json:"user_id"`
	UserEmail  string     `db:"user_email" json:"user_email"`
	UserName   string     `db:"user_name" json:"user_name"`
	Name       string     `db:"name" json:"name"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	LastUsedAt *time.Time `db:"last_used_at" json:"last_used_at"`
	ExpiresAt  *time.Time `db:"expires_at" json:"expires_at"`
}

// Expired reports whether the token's expiry has passed at t.
func (tk *APIToken) Expired(t time.Time) bool { return tk.ExpiresAt != nil && !tk.ExpiresAt.After(t) }

// APITokenInput is a new API token.
type APITokenInput struct {
	Name          string // what it is for, e.g. "CI" or "reporting script"
	ExpiresInDays int    // 0: never expires
}

// MaxTokenDays is the longest expiry a token may be given (ten years).
const MaxTokenDays = 3650

// Validate checks every field and reports all problems at once.
func (in *APITokenInput) Validate() error {
	in.Name = strings.TrimSpace(in.Name)
	bad := map[string]string{}
	if in.Name == "" || len([]rune(in.Name)) > 100 || strings.ContainsAny(in.Name, "\r\n\x00") {
		bad["name"] = "required, one line, at most 100 characters"
	}
	if in.ExpiresInDays < 0 || in.ExpiresInDays > MaxTokenDays {
		bad["expires_in_days"] = "must be a whole number of days from 1 to 3650, or empty for never"
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

// Reassigned counts what happened to a deleted user's open conversations.
type Reassigned struct {
	ToUser     int // assigned to the chosen user
	Unassigned int // left unassigned: none chosen, or the chosen user cannot see the mailbox
}
