package helpdesk

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Mailbox is one support address and the IMAP account its mail comes from.
type Mailbox struct {
	ID              int64      `db:"id" json:"id"`
	Name            string     `db:"name" json:"name"`
	Email           string     `db:"email" json:"email"`
	IMAPHost        string     `db:"imap_host" json:"imap_host"`
	IMAPPort        int        `db:"imap_port" json:"imap_port"`
	IMAPSecurity    string     `db:"imap_security" json:"imap_security"`
	IMAPUser        string     `db:"imap_user" json:"imap_user"`
	IMAPPasswordEnc string     `db:"imap_password_enc" json:"-"`
	AfterFetch      string     `db:"after_fetch" json:"after_fetch"`
	MoveToFolder    string     `db:"move_to_folder" json:"move_to_folder"`
	Enabled         bool       `db:"enabled" json:"enabled"`
	PollIntervalS   int        `db:"poll_interval_s" json:"poll_interval_s"`
	ImportSince     *time.Time `db:"import_since" json:"import_since,omitempty"`
	MaxMessageBytes int64      `db:"max_message_bytes" json:"max_message_bytes"`
	SMTPURLEnc      string     `db:"smtp_url_enc" json:"-"`
	AutoAck         bool       `db:"auto_ack" json:"auto_ack"`
	// IMAPAllowInsecure lets security "none" send the password to a host
	// other than this machine (see CheckPlaintextLogin).
	IMAPAllowInsecure bool      `db:"imap_allow_insecure" json:"imap_allow_insecure"`
	FetchAlertSent    bool      `db:"fetch_alert_sent" json:"-"`
	CreatedAt         time.Time `db:"created_at" json:"created_at"`
	UpdatedAt         time.Time `db:"updated_at" json:"updated_at"`
	Folders           []string  `db:"-" json:"folders"`
	// IMAPAuth is AuthOAuth2 for a mailbox that signs in to IMAP (and to
	// SMTP for its outbound mail) with OAuth2, with OAuth set; empty for
	// one that signs in with its password.
	IMAPAuth string        `db:"-" json:"imap_auth,omitempty"`
	OAuth    *MailboxOAuth `db:"-" json:"oauth,omitempty"`
	// Signature is appended to every reply from this mailbox, with
	// {{agent}} and {{mailbox}} filled in (RenderSignature).
	Signature string `db:"signature" json:"signature"`
}

// MailboxInput is what an admin sets on a mailbox. An empty IMAPPassword on
// update keeps the stored one (the form never shows it), as long as it
// would go where it went before (CheckKeepsPassword).
type MailboxInput struct {
	Name            string
	Email           string
	IMAPHost        string
	IMAPPort        int
	IMAPSecurity    string
	IMAPUser        string
	IMAPAuth        string // AuthPassword (default) or AuthOAuth2
	IMAPPassword    string
	OAuth           OAuthInput // with AuthOAuth2
	Folders         []string
	AfterFetch      string
	MoveToFolder    string
	Enabled         bool
	PollIntervalS   int
	ImportSince     *time.Time
	MaxMessageBytes int64
	SMTPURL         string
	AutoAck         bool
	// IMAPAllowInsecure: security "none" may send the password
	// unencrypted to a host other than this machine.
	IMAPAllowInsecure bool
	Signature         string // a template for RenderSignature; "" for none
}

// Validate checks every field and reports all problems at once.
func (in *MailboxInput) Validate(creating bool) error {
	in.Name = strings.TrimSpace(in.Name)
	in.Email = strings.ToLower(strings.TrimSpace(in.Email))
	in.IMAPHost = strings.TrimSpace(in.IMAPHost)
	in.MoveToFolder = strings.TrimSpace(in.MoveToFolder)
	bad := map[string]string{}
	if in.Name == "" || len(in.Name) > 200 {
		bad["name"] = "required, at most 200 characters"
	}
	if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email || len(in.Email) > 254 {
		bad["email"] = "must be a plain e-mail address like support@example.com"
	}
	if in.IMAPHost == "" || len(in.IMAPHost) > 253 || strings.ContainsAny(in.IMAPHost, " /\\@\r\n\t") {
		bad["imap_host"] = "required: a host name or IP address"
	}
	if in.IMAPPort < 1 || in.IMAPPort > 65535 {
		bad["imap_port"] = "must be between 1 and 65535"
	}
	switch in.IMAPSecurity {
	case "none":
		if !in.IMAPAllowInsecure && !IsLoopbackHost(in.IMAPHost) {
			bad["imap_security"] = errPlaintextLogin
		}
	case "starttls", "tls":
	default:
		bad["imap_security"] = "must be none, starttls or tls"
	}
	if in.IMAPUser == "" || len(in.IMAPUser) > 320 || strings.ContainsAny(in.IMAPUser, "\r\n") {
		bad["imap_user"] = "required"
	}
	switch in.IMAPAuth {
	case "", AuthPassword:
		in.IMAPAuth = AuthPassword
		if creating && in.IMAPPassword == "" {
			bad["imap_password"] = "required"
		}
	case AuthOAuth2:
		in.OAuth.Validate(bad)
	default:
		bad["imap_auth"] = "must be password or oauth2"
	}
	if strings.ContainsAny(in.IMAPPassword, "\r\n") {
		bad["imap_password"] = "must not contain line breaks"
	}
	if len(in.Folders) == 0 {
		in.Folders = []string{"INBOX"}
	}
	for i, f := range in.Folders {
		in.Folders[i] = strings.TrimSpace(f)
		if in.Folders[i] == "" || len(in.Folders[i]) > 500 || strings.ContainsAny(in.Folders[i], "\r\n\x00*%") {
			bad["folders"] = "each folder needs a name without line breaks or wildcards"
		}
	}
	if in.AfterFetch == "" {
		in.AfterFetch = "leave"
	}
	switch in.AfterFetch {
	case "leave", "seen":
	case "move":
		if in.MoveToFolder == "" || strings.ContainsAny(in.MoveToFolder, "\r\n\x00*%") {
			bad["move_to_folder"] = "required when mail is moved after fetching"
		}
	default:
		bad["after_fetch"] = "must be leave, seen or move"
	}
	if in.PollIntervalS == 0 {
		in.PollIntervalS = 60
	}
	if in.PollIntervalS < 5 || in.PollIntervalS > 86400 {
		bad["poll_interval_s"] = "must be between 5 and 86400 seconds"
	}
	if in.MaxMessageBytes == 0 {
		in.MaxMessageBytes = 25 << 20
	}
	if in.MaxMessageBytes < 1024 || in.MaxMessageBytes > 1<<30 {
		bad["max_message_bytes"] = "must be between 1 KiB and 1 GiB"
	}
	if in.SMTPURL != "" {
		if _, err := ParseSMTPURL(in.SMTPURL); err != nil {
			bad["smtp_url"] = err.Error()
		}
	}
	if sig, err := ValidateSignature(in.Signature); err != nil {
		bad["signature"] = err.(*ValidationError).Fields["signature"]
	} else {
		in.Signature = sig
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

const errPlaintextLogin = "none sends the password unencrypted: only to this machine (localhost), " +
	"unless unencrypted login is allowed for this mailbox"

// CheckPlaintextLogin refuses to log in without encryption to a host other
// than this machine unless the mailbox allows it. The fetcher calls it
// before every connection, "Test connection" included, so a mailbox saved
// before the rule existed cannot send its password in clear either.
func (m *Mailbox) CheckPlaintextLogin() error {
	if m.IMAPSecurity == "none" && !m.IMAPAllowInsecure && !IsLoopbackHost(m.IMAPHost) {
		return fmt.Errorf("mailbox %d: refusing to send the IMAP password unencrypted to %s: "+
			"use security tls or starttls, or allow unencrypted login for this mailbox", m.ID, m.IMAPHost)
	}
	return nil
}

// CheckKeepsPassword allows an update without a password only when the
// stored one would go where it went before: the same host, port, user and
// security, and unencrypted login not newly allowed. Otherwise whoever
// may edit the mailbox could send the stored password to a server of
// their own.
func (in *MailboxInput) CheckKeepsPassword(current *Mailbox) error {
	if in.IMAPPassword != "" {
		return nil
	}
	if !strings.EqualFold(in.IMAPHost, current.IMAPHost) || in.IMAPPort != current.IMAPPort ||
		in.IMAPUser != current.IMAPUser || in.IMAPSecurity != current.IMAPSecurity ||
		(in.IMAPAllowInsecure && !current.IMAPAllowInsecure) {
		return &ValidationError{Fields: map[string]string{"imap_password": "enter the password again: " +
			"the stored one is only sent to the host, port, user and security it was entered for"}}
	}
	return nil
}
