package helpdesk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
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
	FetchAlertSent  bool       `db:"fetch_alert_sent" json:"-"`
	CreatedAt       time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt       time.Time  `db:"updated_at" json:"updated_at"`
	Folders         []string   `db:"-" json:"folders"`
}

// MailboxInput is what an admin sets on a mailbox. An empty IMAPPassword on
// update keeps the stored one (the form never shows it).
type MailboxInput struct {
	Name            string
	Email           string
	IMAPHost        string
	IMAPPort        int
	IMAPSecurity    string
	IMAPUser        string
	IMAPPassword    string
	Folders         []string
	AfterFetch      string
	MoveToFolder    string
	Enabled         bool
	PollIntervalS   int
	ImportSince     *time.Time
	MaxMessageBytes int64
	SMTPURL         string
	AutoAck         bool
}

const mailboxColumns = `id, name, email, imap_host, imap_port, imap_security, imap_user, imap_password_enc,
	after_fetch, move_to_folder, enabled, poll_interval_s, import_since, max_message_bytes,
	smtp_url_enc, auto_ack, fetch_alert_sent, created_at, updated_at`

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
	case "none", "starttls", "tls":
	default:
		bad["imap_security"] = "must be none, starttls or tls"
	}
	if in.IMAPUser == "" || len(in.IMAPUser) > 320 || strings.ContainsAny(in.IMAPUser, "\r\n") {
		bad["imap_user"] = "required"
	}
	if creating && in.IMAPPassword == "" {
		bad["imap_password"] = "required"
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
	if in.SMTPURL != "" && !strings.HasPrefix(in.SMTPURL, "smtp://") && !strings.HasPrefix(in.SMTPURL, "smtps://") {
		bad["smtp_url"] = "must start with smtp:// or smtps://"
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

// CreateMailbox validates and stores a new mailbox with its folders and fence.
func (s *Store) CreateMailbox(ctx context.Context, in MailboxInput) (int64, error) {
	if err := in.Validate(true); err != nil {
		return 0, err
	}
	passEnc, smtpEnc, err := s.encryptMailboxSecrets(in)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		t := now()
		err := tx.GetContext(ctx, &id, tx.Rebind(`INSERT INTO mailboxes
			(name, email, imap_host, imap_port, imap_security, imap_user, imap_password_enc, after_fetch,
			 move_to_folder, enabled, poll_interval_s, import_since, max_message_bytes, smtp_url_enc, auto_ack,
			 created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			in.Name, in.Email, in.IMAPHost, in.IMAPPort, in.IMAPSecurity, in.IMAPUser, passEnc, in.AfterFetch,
			in.MoveToFolder, in.Enabled, in.PollIntervalS, in.ImportSince, in.MaxMessageBytes, smtpEnc, in.AutoAck, t, t)
		if isUniqueViolation(err) {
			return &ValidationError{Fields: map[string]string{"email": "another mailbox already uses this address"}}
		}
		if err != nil {
			return fmt.Errorf("insert mailbox: %w", err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO mailbox_fences (mailbox_id, fence) VALUES (?, 0)`), id); err != nil {
			return fmt.Errorf("insert mailbox fence: %w", err)
		}
		return replaceFolders(ctx, tx, id, in.Folders)
	})
	return id, err
}

// UpdateMailbox validates and saves an admin's changes.
func (s *Store) UpdateMailbox(ctx context.Context, id int64, in MailboxInput) error {
	if err := in.Validate(false); err != nil {
		return err
	}
	current, err := s.Mailbox(ctx, id)
	if err != nil {
		return err
	}
	passEnc, smtpEnc, err := s.encryptMailboxSecrets(in)
	if err != nil {
		return err
	}
	if in.IMAPPassword == "" {
		passEnc = current.IMAPPasswordEnc
	}
	if in.SMTPURL == "" {
		smtpEnc = current.SMTPURLEnc
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE mailboxes SET name = ?, email = ?, imap_host = ?, imap_port = ?,
			imap_security = ?, imap_user = ?, imap_password_enc = ?, after_fetch = ?, move_to_folder = ?, enabled = ?,
			poll_interval_s = ?, import_since = ?, max_message_bytes = ?, smtp_url_enc = ?, auto_ack = ?, updated_at = ?
			WHERE id = ?`),
			in.Name, in.Email, in.IMAPHost, in.IMAPPort, in.IMAPSecurity, in.IMAPUser, passEnc, in.AfterFetch,
			in.MoveToFolder, in.Enabled, in.PollIntervalS, in.ImportSince, in.MaxMessageBytes, smtpEnc, in.AutoAck, now(), id)
		if isUniqueViolation(err) {
			return &ValidationError{Fields: map[string]string{"email": "another mailbox already uses this address"}}
		}
		if err != nil {
			return fmt.Errorf("update mailbox %d: %w", id, err)
		}
		return replaceFolders(ctx, tx, id, in.Folders)
	})
}

// SetMailboxEnabled turns fetching of a mailbox on or off.
func (s *Store) SetMailboxEnabled(ctx context.Context, id int64, enabled bool) error {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE mailboxes SET enabled = ?, updated_at = ? WHERE id = ?`), enabled, now(), id)
	if err != nil {
		return fmt.Errorf("set mailbox %d enabled: %w", id, err)
	}
	return expectOneRow(res)
}

func (s *Store) encryptMailboxSecrets(in MailboxInput) (pass, smtp string, err error) {
	if s.secrets == nil {
		return "", "", errors.New("no secret key configured: cannot store passwords")
	}
	if in.IMAPPassword != "" {
		if pass, err = s.secrets.Encrypt(in.IMAPPassword); err != nil {
			return "", "", err
		}
	}
	if in.SMTPURL != "" {
		if smtp, err = s.secrets.Encrypt(in.SMTPURL); err != nil {
			return "", "", err
		}
	}
	return pass, smtp, nil
}

func replaceFolders(ctx context.Context, tx *sqlx.Tx, mailboxID int64, folders []string) error {
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM mailbox_folders WHERE mailbox_id = ?`), mailboxID); err != nil {
		return fmt.Errorf("replace folders: %w", err)
	}
	for _, f := range folders {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO mailbox_folders (mailbox_id, name) VALUES (?, ?)
			ON CONFLICT DO NOTHING`), mailboxID, f); err != nil {
			return fmt.Errorf("insert folder %q: %w", f, err)
		}
	}
	return nil
}

// Mailbox returns one mailbox with its folders.
func (s *Store) Mailbox(ctx context.Context, id int64) (*Mailbox, error) {
	var m Mailbox
	err := s.db.GetContext(ctx, &m, s.db.Rebind(`SELECT `+mailboxColumns+` FROM mailboxes WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("mailbox %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get mailbox %d: %w", id, err)
	}
	if err := s.db.SelectContext(ctx, &m.Folders, s.db.Rebind(`SELECT name FROM mailbox_folders WHERE mailbox_id = ? ORDER BY name`), id); err != nil {
		return nil, fmt.Errorf("get folders of mailbox %d: %w", id, err)
	}
	return &m, nil
}

// Mailboxes lists all mailboxes with their folders, by id.
func (s *Store) Mailboxes(ctx context.Context) ([]Mailbox, error) {
	var ms []Mailbox
	if err := s.db.SelectContext(ctx, &ms, `SELECT `+mailboxColumns+` FROM mailboxes ORDER BY id`); err != nil {
		return nil, fmt.Errorf("list mailboxes: %w", err)
	}
	var folders []struct {
		MailboxID int64  `db:"mailbox_id"`
		Name      string `db:"name"`
	}
	if err := s.db.SelectContext(ctx, &folders, `SELECT mailbox_id, name FROM mailbox_folders ORDER BY mailbox_id, name`); err != nil {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	byID := map[int64]*Mailbox{}
	for i := range ms {
		byID[ms[i].ID] = &ms[i]
	}
	for _, f := range folders {
		if m := byID[f.MailboxID]; m != nil {
			m.Folders = append(m.Folders, f.Name)
		}
	}
	return ms, nil
}

// IMAPPassword decrypts a mailbox's stored IMAP password.
func (s *Store) IMAPPassword(m *Mailbox) (string, error) {
	if s.secrets == nil {
		return "", errors.New("no secret key configured: cannot read passwords")
	}
	return s.secrets.Decrypt(m.IMAPPasswordEnc)
}

// SMTPURL decrypts a mailbox's own SMTP URL ("" when it uses the global one).
func (s *Store) SMTPURL(m *Mailbox) (string, error) {
	if s.secrets == nil || m.SMTPURLEnc == "" {
		return "", nil
	}
	return s.secrets.Decrypt(m.SMTPURLEnc)
}

func expectOneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
