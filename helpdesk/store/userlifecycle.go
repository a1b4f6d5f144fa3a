package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/secret"
)

// The life of an account after it is created: role, password, disabling
// and deleting. Every change that must shut a user out deletes their
// sessions in the same transaction; the session and token queries also
// refuse disabled users, so nothing they hold works after the commit.

// lastAdminProblem is the message when a change would leave no active admin.
const lastAdminProblem = "the last active admin must stay an active admin: make another user admin first"

// SetUserRole changes a user's role; it takes effect on their next request.
func (s *Store) SetUserRole(ctx context.Context, id int64, role string) error {
	if !helpdesk.ValidRole(role) {
		return &helpdesk.ValidationError{Fields: map[string]string{"role": "must be admin or agent"}}
	}
	return s.inTx(ctx, func(t *tx) error {
		if role != helpdesk.RoleAdmin {
			if err := keepAnActiveAdminTx(ctx, t, id, "role"); err != nil {
				return err
			}
		}
		res, err := t.exec(ctx, s.userQ.SetRole, role, id)
		if err != nil {
			return fmt.Errorf("set role of user %d: %w", id, err)
		}
		return oneRowOrNotFound(res, fmt.Sprintf("user %d", id))
	})
}

// SetTimeZone sets the IANA time zone in which the user sees times.
func (s *Store) SetTimeZone(ctx context.Context, id int64, zone string) error {
	if _, err := helpdesk.LoadTimeZone(zone); err != nil {
		return &helpdesk.ValidationError{Fields: map[string]string{"time_zone": "not a known time zone, e.g. Europe/Berlin or UTC"}}
	}
	res, err := s.userQ.SetTimeZone.ExecContext(ctx, zone, id)
	if err != nil {
		return fmt.Errorf("set time zone of user %d: %w", id, err)
	}
	return oneRowOrNotFound(res, fmt.Sprintf("user %d", id))
}

// SetUserDisabled disables a user, which ends their sessions at once and
// refuses their API tokens, or enables them again (their tokens work
// again; they sign in anew).
func (s *Store) SetUserDisabled(ctx context.Context, id int64, disabled bool) error {
	return s.inTx(ctx, func(t *tx) error {
		if _, err := userTx(ctx, t, id); err != nil {
			return err
		}
		if !disabled {
			if _, err := t.exec(ctx, s.userQ.EnableUser, id); err != nil {
				return fmt.Errorf("enable user %d: %w", id, err)
			}
			return nil
		}
		if err := keepAnActiveAdminTx(ctx, t, id, "status"); err != nil {
			return err
		}
		if _, err := t.exec(ctx, s.userQ.DisableUser, now(), id); err != nil {
			return fmt.Errorf("disable user %d: %w", id, err)
		}
		return signOutTx(ctx, t, id, "")
	})
}

// ChangeOwnPassword sets a user's password after checking the current
// one, and signs out every other session than keepSession (the cookie
// token of the browser that asked).
func (s *Store) ChangeOwnPassword(ctx context.Context, id int64, current, next, keepSession string) error {
	var hash string
	err := s.userQ.PasswordHash.GetContext(ctx, &hash, id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("user %d: %w", id, helpdesk.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("read password of user %d: %w", id, err)
	}
	bad := map[string]string{}
	if !secret.CheckPassword(hash, current) {
		bad["current_password"] = "is not your current password"
	}
	if msg := helpdesk.PasswordProblem(next); msg != "" {
		bad["new_password"] = msg
	}
	if len(bad) > 0 {
		return &helpdesk.ValidationError{Fields: bad}
	}
	return s.setPassword(ctx, id, next, secret.HashToken(keepSession))
}

// ResetPassword is an admin setting a user's password; every session of
// the user ends.
func (s *Store) ResetPassword(ctx context.Context, id int64, password string) error {
	if msg := helpdesk.PasswordProblem(password); msg != "" {
		return &helpdesk.ValidationError{Fields: map[string]string{"password": msg}}
	}
	return s.setPassword(ctx, id, password, "")
}

// setPassword stores a new password hash and ends the user's sessions but
// the one whose token hash is keepHash ("" for none).
func (s *Store) setPassword(ctx context.Context, id int64, password, keepHash string) error {
	hash, err := s.hashCost.Hash(password)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, s.userQ.SetPassword, hash, id)
		if err != nil {
			return fmt.Errorf("set password of user %d: %w", id, err)
		}
		if err := oneRowOrNotFound(res, fmt.Sprintf("user %d", id)); err != nil {
			return err
		}
		return signOutTx(ctx, t, id, keepHash)
	})
}

// DeleteUser removes a user from the helpdesk: their open conversations go
// to reassignTo where that user can see the mailbox and are unassigned
// otherwise (reassignTo 0: all unassigned); their sessions, tokens and
// mailbox access go. The row stays, disabled and marked deleted, with its
// name, so past replies and notes keep their author; the address is freed.
// byUserID is who deletes (0: the command line), for notifications.
func (s *Store) DeleteUser(ctx context.Context, id, reassignTo, byUserID int64) (helpdesk.Reassigned, error) {
	var r helpdesk.Reassigned
	if reassignTo == id {
		return r, &helpdesk.ValidationError{Fields: map[string]string{"reassign_to": "must be another user"}}
	}
	err := s.inTx(ctx, func(t *tx) error {
		if _, err := userTx(ctx, t, id); err != nil {
			return err
		}
		if reassignTo != 0 {
			to, err := userTx(ctx, t, reassignTo)
			if errors.Is(err, helpdesk.ErrNotFound) || err == nil && to.Disabled() {
				return &helpdesk.ValidationError{Fields: map[string]string{"reassign_to": "no such active user"}}
			}
			if err != nil {
				return err
			}
		}
		if err := keepAnActiveAdminTx(ctx, t, id, "status"); err != nil {
			return err
		}
		var err error
		if r, err = reassignOpenTx(ctx, t, id, reassignTo, byUserID); err != nil {
			return err
		}
		at := now()
		if _, err := t.exec(ctx, s.userQ.DeleteUser, at, at, id); err != nil {
			return fmt.Errorf("delete user %d: %w", id, err)
		}
		if _, err := t.exec(ctx, s.userQ.DeleteUserTokens, id); err != nil {
			return fmt.Errorf("delete tokens of user %d: %w", id, err)
		}
		if _, err := t.exec(ctx, s.userQ.ClearUserMailboxes, id); err != nil {
			return fmt.Errorf("clear mailboxes of user %d: %w", id, err)
		}
		return signOutTx(ctx, t, id, "")
	})
	return r, err
}

// reassignOpenTx moves the user's open conversations, each through the
// one assign path (so the new assignee is notified as for any assignment).
func reassignOpenTx(ctx context.Context, t *tx, fromID, toID, byUserID int64) (helpdesk.Reassigned, error) {
	var r helpdesk.Reassigned
	var convs []struct {
		ID        int64 `db:"id"`
		MailboxID int64 `db:"mailbox_id"`
	}
	if err := t.sel(ctx, &convs, t.store.userQ.OpenAssignedConversations, fromID); err != nil {
		return r, fmt.Errorf("list open conversations of user %d: %w", fromID, err)
	}
	by := helpdesk.Viewer{UserID: byUserID, Admin: true}
	for _, c := range convs {
		to := int64(0)
		if toID != 0 {
			ok, err := canSeeMailbox(ctx, t, toID, c.MailboxID)
			if err != nil {
				return r, err
			}
			if ok {
				to = toID
			}
		}
		// Reassignment is a change of its own: a new version, so an
		// agent's page opened before it cannot undo it.
		cv, err := versionsTx(ctx, t, c.ID)
		if err != nil {
			return r, err
		}
		if err := assignTx(ctx, t, by, cv, c.ID, c.MailboxID, to); err != nil {
			return r, err
		}
		t.addEvent(helpdesk.EventConversationUpdated, c.MailboxID, c.ID, 0)
		if to != 0 {
			r.ToUser++
		} else {
			r.Unassigned++
		}
	}
	return r, nil
}

// keepAnActiveAdminTx refuses a change that takes the user out of the
// active admins when no other active admin is left; field names the form
// field the message belongs to.
func keepAnActiveAdminTx(ctx context.Context, t *tx, id int64, field string) error {
	var admins []int64
	if err := t.sel(ctx, &admins, t.store.userQ.ActiveAdmins); err != nil {
		return fmt.Errorf("list active admins: %w", err)
	}
	if len(admins) != 1 || admins[0] != id {
		return nil
	}
	return &helpdesk.ValidationError{Fields: map[string]string{field: lastAdminProblem}}
}

// userTx reads a user (not deleted) inside a transaction.
func userTx(ctx context.Context, t *tx, id int64) (*helpdesk.User, error) {
	var u helpdesk.User
	err := t.get(ctx, &u, t.store.userQ.User, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %d: %w", id, helpdesk.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %d: %w", id, err)
	}
	return &u, nil
}

// signOutTx ends the user's sessions but the one whose token hash is
// keepHash ("" for none).
func signOutTx(ctx context.Context, t *tx, id int64, keepHash string) error {
	if _, err := t.exec(ctx, t.store.userQ.DeleteOtherSessions, id, keepHash); err != nil {
		return fmt.Errorf("end sessions of user %d: %w", id, err)
	}
	return nil
}

// oneRowOrNotFound turns an UPDATE or DELETE that changed nothing into
// ErrNotFound naming what.
func oneRowOrNotFound(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, helpdesk.ErrNotFound)
	}
	return nil
}
