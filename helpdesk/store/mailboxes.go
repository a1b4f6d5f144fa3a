package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

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
	err = s.inTx(ctx, func(t *tx) error {
		at := now()
		err := t.get(ctx, &id, s.mailboxQ.CreateMailbox,
			in.Name, in.Email, in.IMAPHost, in.IMAPPort, in.IMAPSecurity, in.IMAPUser, passEnc, in.AfterFetch,
			in.MoveToFolder, in.Enabled, in.PollIntervalS, in.ImportSince, in.MaxMessageBytes, smtpEnc, in.AutoAck,
			in.IMAPAllowInsecure, at, at)
		if isUniqueViolation(err) {
			return &helpdesk.ValidationError{Fields: map[string]string{"email": "another mailbox already uses this address"}}
		}
		if err != nil {
			return fmt.Errorf("insert mailbox: %w", err)
		}
		if _, err := t.exec(ctx, s.mailboxQ.CreateMailboxFence, id); err != nil {
			return fmt.Errorf("insert mailbox fence: %w", err)
		}
		if err := s.replaceFolders(ctx, t, id, in.Folders); err != nil {
			return err
		}
		if _, err := t.exec(ctx, s.mailboxQ.SetMailboxSignature, in.Signature, id); err != nil {
			return fmt.Errorf("set signature of mailbox %d: %w", id, err)
		}
		if in.IMAPAuth == helpdesk.AuthOAuth2 {
			if err := s.insertMailboxOAuth(ctx, t, id, in.OAuth); err != nil {
				return err
			}
		}
		return s.bumpMailboxesVersion(ctx, t)
	})
	return id, err
}

// UpdateMailbox validates and saves an admin's changes. The stored IMAP
// password is kept only while it would go where it went before.
func (s *Store) UpdateMailbox(ctx context.Context, id int64, in helpdesk.MailboxInput) error {
	if err := in.Validate(false); err != nil {
		return err
	}
	current, err := s.Mailbox(ctx, id)
	if err != nil {
		return err
	}
	if err := in.CheckKeepsPassword(current); err != nil {
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
	return s.inTx(ctx, func(t *tx) error {
		_, err := t.exec(ctx, s.mailboxQ.UpdateMailbox,
			in.Name, in.Email, in.IMAPHost, in.IMAPPort, in.IMAPSecurity, in.IMAPUser, passEnc, in.AfterFetch,
			in.MoveToFolder, in.Enabled, in.PollIntervalS, in.ImportSince, in.MaxMessageBytes, smtpEnc, in.AutoAck,
			in.IMAPAllowInsecure, now(), id)
		if isUniqueViolation(err) {
			return &helpdesk.ValidationError{Fields: map[string]string{"email": "another mailbox already uses this address"}}
		}
		if err != nil {
			return fmt.Errorf("update mailbox %d: %w", id, err)
		}
		if err := s.replaceFolders(ctx, t, id, in.Folders); err != nil {
			return err
		}
		if _, err := t.exec(ctx, s.mailboxQ.SetMailboxSignature, in.Signature, id); err != nil {
			return fmt.Errorf("set signature of mailbox %d: %w", id, err)
		}
		return s.bumpMailboxesVersion(ctx, t)
	})
}

// SetMailboxEnabled turns fetching of a mailbox on or off.
func (s *Store) SetMailboxEnabled(ctx context.Context, id int64, enabled bool) error {
	return s.inTx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, s.mailboxQ.SetMailboxEnabled, enabled, now(), id)
		if err != nil {
			return fmt.Errorf("set mailbox %d enabled: %w", id, err)
		}
		if err := expectOneRow(res); err != nil {
			return err
		}
		return s.bumpMailboxesVersion(ctx, t)
	})
}

// bumpMailboxesVersion tells the fetch service (FetchChanges) that a
// mailbox changed; every write to a mailbox or its folders calls it in its
// transaction.
func (s *Store) bumpMailboxesVersion(ctx context.Context, t *tx) error {
	if _, err := t.exec(ctx, s.mailboxQ.BumpVersion); err != nil {
		return fmt.Errorf("bump mailboxes version: %w", err)
	}
	return nil
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

func (s *Store) replaceFolders(ctx context.Context, t *tx, mailboxID int64, folders []string) error {
	if _, err := t.exec(ctx, s.mailboxQ.ClearMailboxFolders, mailboxID); err != nil {
		return fmt.Errorf("replace folders: %w", err)
	}
	for _, f := range folders {
		if _, err := t.exec(ctx, s.mailboxQ.AddMailboxFolder, mailboxID, f); err != nil {
			return fmt.Errorf("insert folder %q: %w", f, err)
		}
	}
	return nil
}

// Mailbox returns one mailbox with its folders.
func (s *Store) Mailbox(ctx context.Context, id int64) (*helpdesk.Mailbox, error) {
	var m helpdesk.Mailbox
	err := s.mailboxQ.Mailbox.GetContext(ctx, &m, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("mailbox %d: %w", id, helpdesk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get mailbox %d: %w", id, err)
	}
	if err := s.mailboxQ.MailboxFolders.SelectContext(ctx, &m.Folders, id); err != nil {
		return nil, fmt.Errorf("get folders of mailbox %d: %w", id, err)
	}
	o, err := s.mailboxOAuth(ctx, id)
	if err != nil {
		return nil, err
	}
	setAuth(&m, o)
	return &m, nil
}

// Mailboxes lists all mailboxes with their folders, by id.
func (s *Store) Mailboxes(ctx context.Context) ([]helpdesk.Mailbox, error) {
	var ms []helpdesk.Mailbox
	if err := s.mailboxQ.Mailboxes.SelectContext(ctx, &ms); err != nil {
		return nil, fmt.Errorf("list mailboxes: %w", err)
	}
	var folders []struct {
		MailboxID int64  `db:"mailbox_id"`
		Name      string `db:"name"`
	}
	if err := s.mailboxQ.AllMailboxFolders.SelectContext(ctx, &folders); err != nil {
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
	if err := s.fillAuthOfAll(ctx, ms); err != nil {
		return nil, err
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
