package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// composerQueries are the queries of queries/composer_aids.sql (queries.go).
type composerQueries struct {
	SavedReplies     *sqlx.Stmt `query:"saved-replies"`
	SavedReply       *sqlx.Stmt `query:"saved-reply"`
	CreateSavedReply *sqlx.Stmt `query:"create-saved-reply"`
	UpdateSavedReply *sqlx.Stmt `query:"update-saved-reply"`
	DeleteSavedReply *sqlx.Stmt `query:"delete-saved-reply"`
	Draft            *sqlx.Stmt `query:"draft"`
	SaveDraft        *sqlx.Stmt `query:"save-draft"`
	DeleteDraft      *sqlx.Stmt `query:"delete-draft"`
	AppendDrafts     *sqlx.Stmt `query:"append-merged-drafts"`
	MoveDrafts       *sqlx.Stmt `query:"move-merged-drafts"`
	DropDrafts       *sqlx.Stmt `query:"drop-merged-drafts"`
}

// SavedReplies lists the saved replies the viewer may use, by name: the
// global ones and those of the viewer's mailboxes; with mailboxID (not 0)
// only those that apply to that mailbox.
func (s *Store) SavedReplies(ctx context.Context, v helpdesk.Viewer, mailboxID int64) ([]helpdesk.SavedReply, error) {
	rs := []helpdesk.SavedReply{}
	if err := s.composerQ.SavedReplies.SelectContext(ctx, &rs, v.Admin, v.UserID, mailboxID, mailboxID); err != nil {
		return nil, fmt.Errorf("list saved replies: %w", err)
	}
	return rs, nil
}

// SavedReply is one saved reply the viewer may use.
func (s *Store) SavedReply(ctx context.Context, v helpdesk.Viewer, id int64) (*helpdesk.SavedReply, error) {
	var r helpdesk.SavedReply
	err := s.composerQ.SavedReply.GetContext(ctx, &r, id, v.Admin, v.UserID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("saved reply %d: %w", id, helpdesk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get saved reply %d: %w", id, err)
	}
	return &r, nil
}

// CreateSavedReply validates and stores a new saved reply (admins).
func (s *Store) CreateSavedReply(ctx context.Context, in helpdesk.SavedReplyInput) (int64, error) {
	if err := in.Validate(); err != nil {
		return 0, err
	}
	var id int64
	err := s.inTx(ctx, func(t *tx) error {
		if err := savedReplyMailboxTx(ctx, t, in.MailboxID); err != nil {
			return err
		}
		at := now()
		if err := t.get(ctx, &id, s.composerQ.CreateSavedReply, in.MailboxID, in.Name, in.Body, at, at); err != nil {
			return fmt.Errorf("insert saved reply: %w", err)
		}
		return nil
	})
	return id, err
}

// UpdateSavedReply validates and saves an admin's changes.
func (s *Store) UpdateSavedReply(ctx context.Context, id int64, in helpdesk.SavedReplyInput) error {
	if err := in.Validate(); err != nil {
		return err
	}
	return s.inTx(ctx, func(t *tx) error {
		if err := savedReplyMailboxTx(ctx, t, in.MailboxID); err != nil {
			return err
		}
		res, err := t.exec(ctx, s.composerQ.UpdateSavedReply, in.MailboxID, in.Name, in.Body, now(), id)
		if err != nil {
			return fmt.Errorf("update saved reply %d: %w", id, err)
		}
		if err := expectOneRow(res); err != nil {
			return fmt.Errorf("saved reply %d: %w", id, err)
		}
		return nil
	})
}

// DeleteSavedReply removes a saved reply (admins).
func (s *Store) DeleteSavedReply(ctx context.Context, id int64) error {
	res, err := s.composerQ.DeleteSavedReply.ExecContext(ctx, id)
	if err != nil {
		return fmt.Errorf("delete saved reply %d: %w", id, err)
	}
	if err := expectOneRow(res); err != nil {
		return fmt.Errorf("saved reply %d: %w", id, err)
	}
	return nil
}

// savedReplyMailboxTx checks that the mailbox a saved reply is for exists.
func savedReplyMailboxTx(ctx context.Context, t *tx, mailboxID *int64) error {
	if mailboxID == nil {
		return nil
	}
	var email string
	err := t.get(ctx, &email, t.store.convQ.MailboxEmail, *mailboxID)
	if errors.Is(err, sql.ErrNoRows) {
		return &helpdesk.ValidationError{Fields: map[string]string{"mailbox_id": "no such mailbox"}}
	}
	if err != nil {
		return fmt.Errorf("read mailbox %d: %w", *mailboxID, err)
	}
	return nil
}
