package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// fieldOf is the message of one field of a validation error, "" if none.
func fieldOf(err error, field string) string {
	var ve *helpdesk.ValidationError
	if errors.As(err, &ve) {
		return ve.Fields[field]
	}
	return ""
}

// A disabled user's session and token stop at once and login fails;
// enabled again, the token works and they sign in anew (the old session
// stays ended). Disabled users are no assignees.
func TestDisableAndEnableUser(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			sess, _, err := w.s.CreateSession(ctx, w.agent.ID, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			token, _, err := w.s.CreateAPIToken(ctx, w.agent.ID, helpdesk.APITokenInput{Name: "script"})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.s.SetUserDisabled(ctx, w.agent.ID, true); err != nil {
				t.Fatal(err)
			}
			if _, err := w.s.SessionByToken(ctx, sess); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("session of a disabled user: %v", err)
			}
			if _, err := w.s.UserByAPIToken(ctx, token); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("token of a disabled user: %v", err)
			}
			if _, err := w.s.Authenticate(ctx, "agent@example.com", "password-123456"); !errors.Is(err, helpdesk.ErrBadCredentials) {
				t.Errorf("login of a disabled user: %v", err)
			}
			if u, err := w.s.User(ctx, w.agent.ID); err != nil || !u.Disabled() {
				t.Errorf("disabled user reads %+v %v", u, err)
			}
			if as, _ := w.s.Assignees(ctx, w.mb1); len(as) != 1 || as[0].ID != w.admin.ID {
				t.Errorf("assignees with the agent disabled: %+v", as)
			}
			if _, _, err := w.s.CreateAPIToken(ctx, w.agent.ID, helpdesk.APITokenInput{Name: "x"}); fieldOf(err, "user") == "" {
				t.Errorf("token for a disabled user: %v", err)
			}

			if err := w.s.SetUserDisabled(ctx, w.agent.ID, false); err != nil {
				t.Fatal(err)
			}
			if u, err := w.s.UserByAPIToken(ctx, token); err != nil || u.ID != w.agent.ID {
				t.Errorf("token after enabling: %v %v", u, err)
			}
			if _, err := w.s.Authenticate(ctx, "agent@example.com", "password-123456"); err != nil {
				t.Errorf("login after enabling: %v", err)
			}
			if _, err := w.s.SessionByToken(ctx, sess); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("the session ended by disabling came back: %v", err)
			}

			// The last active admin stays.
			if err := w.s.SetUserDisabled(ctx, w.admin.ID, true); fieldOf(err, "status") == "" {
				t.Errorf("disabling the last admin: %v", err)
			}
			if err := w.s.SetUserDisabled(ctx, 999999, true); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("unknown user: %v", err)
			}
		})
	}
}

// Deleting a user moves their open conversations to the chosen user where
// that user can see the mailbox, else unassigns them; closed ones and
// past notes keep the deleted user's name; the address is free again.
func TestDeleteUserReassignsOpenConversations(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			heir, err := w.s.CreateUser(ctx, helpdesk.UserInput{Email: "heir@example.com", Name: "Heir", Role: helpdesk.RoleAgent, Password: "password-123456"})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.s.SetUserMailboxes(ctx, heir.ID, []int64{w.mb1}); err != nil {
				t.Fatal(err)
			}
			if err := w.s.SetUserMailboxes(ctx, w.agent.ID, []int64{w.mb1, w.mb2}); err != nil {
				t.Fatal(err)
			}
			id := func(i int64) *int64 { return &i }
			str := func(s string) *string { return &s }
			open1 := w.ingest(t, mail{from: "a@customer.example", subject: "open one", text: "x"}).ConversationID
			pending := w.ingest(t, mail{from: "b@customer.example", subject: "pending", text: "x"}).ConversationID
			closed := w.ingest(t, mail{from: "c@customer.example", subject: "closed", text: "x"}).ConversationID
			otherBox := w.ingest(t, mail{mailbox: w.mb2, from: "d@customer.example", subject: "other box", text: "x"}).ConversationID
			for conv, status := range map[int64]string{open1: "active", pending: "pending", closed: "closed", otherBox: "active"} {
				ch := helpdesk.ConversationChange{AssigneeID: id(w.agent.ID), Status: str(status)}
				if err := w.s.UpdateConversation(ctx, w.adminV(), conv, ch); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := w.s.AddNote(ctx, w.agentV(), open1, "a note by the agent", 0); err != nil {
				t.Fatal(err)
			}

			if _, err := w.s.DeleteUser(ctx, w.agent.ID, w.agent.ID, w.admin.ID); fieldOf(err, "reassign_to") == "" {
				t.Errorf("reassigning to the deleted user: %v", err)
			}
			if _, err := w.s.DeleteUser(ctx, w.admin.ID, 0, w.admin.ID); fieldOf(err, "status") == "" {
				t.Errorf("deleting the last admin: %v", err)
			}
			r, err := w.s.DeleteUser(ctx, w.agent.ID, heir.ID, w.admin.ID)
			if err != nil {
				t.Fatal(err)
			}
			if r != (helpdesk.Reassigned{ToUser: 2, Unassigned: 1}) {
				t.Errorf("reassigned %+v, want 2 to the heir and 1 (the heir cannot see its mailbox) unassigned", r)
			}
			assignee := func(conv int64) (int64, string) {
				d, err := w.s.Conversation(ctx, w.adminV(), conv)
				if err != nil {
					t.Fatal(err)
				}
				if d.AssigneeID == nil {
					return 0, ""
				}
				return *d.AssigneeID, *d.AssigneeName
			}
			for conv, want := range map[int64]int64{open1: heir.ID, pending: heir.ID, otherBox: 0, closed: w.agent.ID} {
				if got, name := assignee(conv); got != want {
					t.Errorf("conversation %d: assignee %d %q, want %d", conv, got, name, want)
				}
			}
			if _, name := assignee(closed); name != "agent" {
				t.Errorf("closed conversation names its deleted assignee %q, want agent", name)
			}
			d, _ := w.s.Conversation(ctx, w.adminV(), open1)
			last := d.Threads[len(d.Threads)-1]
			if last.FromName != "agent" || last.UserID == nil || *last.UserID != w.agent.ID {
				t.Errorf("the deleted user's note: from %q user %v", last.FromName, last.UserID)
			}
			if _, err := w.s.User(ctx, w.agent.ID); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("deleted user still found: %v", err)
			}
			if us, _ := w.s.Users(ctx); len(us) != 3 {
				t.Errorf("users after delete: %+v", us)
			}
			if _, err := w.s.CreateUser(ctx, helpdesk.UserInput{Email: "agent@example.com", Name: "New Agent", Role: helpdesk.RoleAgent, Password: "password-123456"}); err != nil {
				t.Errorf("the deleted user's address is not free: %v", err)
			}
			if _, err := w.s.DeleteUser(ctx, w.agent.ID, 0, w.admin.ID); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("deleting twice: %v", err)
			}
		})
	}
}

// A role change shows in the next session read; the last admin cannot be
// demoted. Changing one's own password needs the current one and ends the
// other sessions; an admin's reset ends them all.
func TestRoleAndPasswords(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			here, _, _ := w.s.CreateSession(ctx, w.agent.ID, time.Hour)
			elsewhere, _, _ := w.s.CreateSession(ctx, w.agent.ID, time.Hour)

			if err := w.s.SetUserRole(ctx, w.agent.ID, helpdesk.RoleAdmin); err != nil {
				t.Fatal(err)
			}
			if sess, err := w.s.SessionByToken(ctx, here); err != nil || !sess.User.IsAdmin() {
				t.Fatalf("session after promotion: %+v %v", sess, err)
			}
			if err := w.s.SetUserRole(ctx, w.agent.ID, "root"); fieldOf(err, "role") == "" {
				t.Errorf("unknown role: %v", err)
			}
			if err := w.s.SetUserRole(ctx, w.agent.ID, helpdesk.RoleAgent); err != nil {
				t.Fatal(err)
			}
			if err := w.s.SetUserRole(ctx, w.admin.ID, helpdesk.RoleAgent); fieldOf(err, "role") == "" {
				t.Errorf("demoting the last admin: %v", err)
			}

			err := w.s.ChangeOwnPassword(ctx, w.agent.ID, "wrong-password", "short", here)
			if fieldOf(err, "current_password") == "" || fieldOf(err, "new_password") == "" {
				t.Errorf("wrong current and short new password: %v", err)
			}
			if _, err := w.s.SessionByToken(ctx, elsewhere); err != nil {
				t.Fatalf("a refused change ended a session: %v", err)
			}
			if err := w.s.ChangeOwnPassword(ctx, w.agent.ID, "password-123456", "a-new-password-1", here); err != nil {
				t.Fatal(err)
			}
			if _, err := w.s.SessionByToken(ctx, here); err != nil {
				t.Errorf("the session that changed the password ended: %v", err)
			}
			if _, err := w.s.SessionByToken(ctx, elsewhere); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("another session survived the password change: %v", err)
			}
			if _, err := w.s.Authenticate(ctx, "agent@example.com", "a-new-password-1"); err != nil {
				t.Errorf("login with the new password: %v", err)
			}

			if err := w.s.ResetPassword(ctx, w.agent.ID, "short"); fieldOf(err, "password") == "" {
				t.Errorf("short reset password: %v", err)
			}
			if err := w.s.ResetPassword(ctx, w.agent.ID, "reset-by-admin-1"); err != nil {
				t.Fatal(err)
			}
			if _, err := w.s.SessionByToken(ctx, here); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("a session survived the reset: %v", err)
			}
			if _, err := w.s.Authenticate(ctx, "agent@example.com", "reset-by-admin-1"); err != nil {
				t.Errorf("login with the reset password: %v", err)
			}
		})
	}
}

// Tokens are listed with created and last use (written at most once a
// minute), expire, and stop at once when revoked by their owner or an
// admin.
func TestAPITokenLifecycle(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := teststore.URL(t, dialect)
			w := setupWorkspaceAt(t, url)
			db := teststore.RawDB(t, url)

			_, _, err := w.s.CreateAPIToken(ctx, w.agent.ID, helpdesk.APITokenInput{Name: " ", ExpiresInDays: 5000})
			if fieldOf(err, "name") == "" || fieldOf(err, "expires_in_days") == "" {
				t.Errorf("bad token input: %v", err)
			}
			token, tk, err := w.s.CreateAPIToken(ctx, w.agent.ID, helpdesk.APITokenInput{Name: "CI", ExpiresInDays: 30})
			if err != nil {
				t.Fatal(err)
			}
			if tk.ExpiresAt == nil || tk.ExpiresAt.Sub(tk.CreatedAt) != 30*24*time.Hour {
				t.Errorf("token expires %v, created %v", tk.ExpiresAt, tk.CreatedAt)
			}
			other, _, _ := w.s.CreateAPIToken(ctx, w.other.ID, helpdesk.APITokenInput{Name: "other's"})
			listed := func(userID int64) []helpdesk.APIToken {
				t.Helper()
				tks, err := w.s.APITokens(ctx, userID)
				if err != nil {
					t.Fatal(err)
				}
				return tks
			}
			mine := listed(w.agent.ID)
			if len(mine) != 1 || mine[0].Name != "CI" || mine[0].LastUsedAt != nil || mine[0].CreatedAt.IsZero() || mine[0].UserEmail != "agent@example.com" {
				t.Fatalf("agent's tokens: %+v", mine)
			}
			if all := listed(0); len(all) != 2 {
				t.Fatalf("all tokens: %+v", all)
			}

			if _, err := w.s.UserByAPIToken(ctx, token); err != nil {
				t.Fatal(err)
			}
			first := listed(w.agent.ID)[0].LastUsedAt
			if first == nil {
				t.Fatal("last use not written")
			}
			if _, err := w.s.UserByAPIToken(ctx, token); err != nil {
				t.Fatal(err)
			}
			if again := listed(w.agent.ID)[0].LastUsedAt; !again.Equal(*first) {
				t.Errorf("last use written twice within a minute: %v then %v", first, again)
			}
			// A minute later it is written again.
			if _, err := db.Exec(db.Rebind("UPDATE api_tokens SET last_used_at = ? WHERE id = ?"), first.Add(-2*time.Minute), tk.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := w.s.UserByAPIToken(ctx, token); err != nil {
				t.Fatal(err)
			}
			if later := listed(w.agent.ID)[0].LastUsedAt; !later.After(first.Add(-time.Minute)) {
				t.Errorf("last use not written after a minute: %v", later)
			}

			// Expired: refused.
			if _, err := db.Exec(db.Rebind("UPDATE api_tokens SET expires_at = ? WHERE id = ?"), time.Now().UTC().Add(-time.Second), tk.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := w.s.UserByAPIToken(ctx, token); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("expired token: %v", err)
			}

			// Revoked by someone else: not found; by the owner or an admin: gone.
			if err := w.s.RevokeAPIToken(ctx, tk.ID, w.other.ID); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("revoked by another user: %v", err)
			}
			if err := w.s.RevokeAPIToken(ctx, tk.ID, w.agent.ID); err != nil {
				t.Fatal(err)
			}
			otherID := listed(w.other.ID)[0].ID
			if _, err := w.s.UserByAPIToken(ctx, other); err != nil {
				t.Fatal(err)
			}
			if err := w.s.RevokeAPIToken(ctx, otherID, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := w.s.UserByAPIToken(ctx, other); !errors.Is(err, helpdesk.ErrNotFound) {
				t.Errorf("revoked token still works: %v", err)
			}
			if all := listed(0); len(all) != 0 {
				t.Errorf("revoked tokens still listed: %+v", all)
			}
		})
	}
}

// A disabled user is sent no notifications.
func TestDisabledUsersGetNoNotifications(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			o := setupOutbox(t, dialect)
			if err := o.s.SetUserDisabled(context.Background(), o.agent.ID, true); err != nil {
				t.Fatal(err)
			}
			m := o.ingest(t, customerMail{from: "cus@customer.example", messageID: "m1@customer.example"})
			want := []string{fmt.Sprintf("notify:new-conversation:%d:%d", m.ThreadID, o.admin.ID)}
			if got := o.keys(t, "notification"); !slices.Equal(got, want) {
				t.Fatalf("notifications %v, want only the admin's %v", got, want)
			}
		})
	}
}
