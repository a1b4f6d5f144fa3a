package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/jmoiron/sqlx"
)

const mailboxColumns = `id, name, email, imap_host, imap_port, imap_security, imap_user, imap_password_enc,
	after_fetch, move_to_folder, enabled, poll_interval_s, import_since, max_message_bytes,
	smtp_url_enc, auto_ack, fetch_alert_sent, created_at, updated_at`

// CreateMailbox validates and stores a new mailbox with its folders and fence.
func (s *Store) CreateMailbox(ctx context.Context, in helpdesk.MailboxInput) (int64, error) {
	if err := in.Validate(true); err != nil {
		return 0, err
	}
	passEnc, smtpEnc, err := s.encryptMailboxSecrets(in)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.inSQLTx(ctx, func(tx *sqlx.Tx) error {
		t := now()
		err := tx.GetContext(ctx, &id, tx.Rebind(`INSERT INTO mailboxes
			(name, email, imap_host, imap_port, imap_security, imap_user, imap_password_enc, after_fetch,
			 move_to_folder, enabled, poll_interval_s, import_since, max_message_bytes, smtp_url_enc, auto_ack,
			 created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			in.Name, in.Email, in.IMAPHost, in.IMAPPort, in.IMAPSecurity, in.IMAPUser, passEnc, in.AfterFetch,
			in.MoveToFolder, in.Enabled, in.PollIntervalS, in.ImportSince, in.MaxMessageBytes, smtpEnc, in.AutoAck, t, t)
		if isUniqueViolation(err) {
			return &helpdesk.ValidationError{Fields: map[string]string{"email": "another mailbox already uses this address"}}
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
func (s *Store) UpdateMailbox(ctx context.Context, id int64, in helpdesk.MailboxInput) error {
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
	return s.inSQLTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE mailboxes SET name = ?, email = ?, imap_host = ?, imap_port = ?,
			imap_security = ?, imap_user = ?, imap_password_enc = ?, after_fetch = ?, move_to_folder = ?, enabled = ?,
			poll_interval_s = ?, import_since = ?, max_message_bytes = ?, smtp_url_enc = ?, auto_ack = ?, updated_at = ?
			WHERE id = ?`),
			in.Name, in.Email, in.IMAPHost, in.IMAPPort, in.IMAPSecurity, in.IMAPUser, passEnc, in.AfterFetch,
			in.MoveToFolder, in.Enabled, in.PollIntervalS, in.ImportSince, in.MaxMessageBytes, smtpEnc, in.AutoAck, now(), id)
		if isUniqueViolation(err) {
			return &helpdesk.ValidationError{Fields: map[string]string{"email": "another mailbox already uses this address"}}
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

func (s *Store) encryptMailboxSecrets(in helpdesk.MailboxInput) (pass, smtp string, err error) {
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
func (s *Store) Mailbox(ctx context.Context, id int64) (*helpdesk.Mailbox, error) {
	var m helpdesk.Mailbox
	err := s.db.GetContext(ctx, &m, s.db.Rebind(`SELECT `+mailboxColumns+` FROM mailboxes WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("mailbox %d: %w", id, helpdesk.ErrNotFound)
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
func (s *Store) Mailboxes(ctx context.Context) ([]helpdesk.Mailbox, error) {
	var ms []helpdesk.Mailbox
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
	byID := map[int64]*helpdesk.Mailbox{}
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
func (s *Store) IMAPPassword(m *helpdesk.Mailbox) (string, error) {
	if s.secrets == nil {
		return "", errors.New("no secret key configured: cannot read passwords")
	}
	return s.secrets.Decrypt(m.IMAPPasswordEnc)
}

// SMTPURL decrypts a mailbox's own SMTP URL ("" when it uses the global one).
func (s *Store) SMTPURL(m *helpdesk.Mailbox) (string, error) {
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
		return helpdesk.ErrNotFound
	}
	return nil
}
