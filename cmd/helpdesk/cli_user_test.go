package main

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// The user and token subcommands, run as the built binary: add, list,
// set-role, disable/enable, reset-password, delete; token create, list,
// revoke. Each takes effect in the database the web reads.
func TestUserAndTokenCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, teststore.URL(t, "sqlite"))
	pw := []string{"PW=first-password-1"}
	for _, u := range [][]string{{"admin@example.com", "Ada", "admin"}, {"agent@example.com", "Aggie", "agent"}} {
		if _, stderr, code := w.runEnv(pw, "user", "add", "--email", u[0], "--name", u[1], "--role", u[2], "--password-env", "PW"); code != 0 {
			t.Fatalf("user add %s: exit %d: %s", u[0], code, stderr)
		}
	}
	usable := func(token string) bool {
		t.Helper()
		_, err := w.store.UserByAPIToken(ctx, token)
		if err != nil && !errors.Is(err, helpdesk.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	token, _ := w.run(0, "token", "create", "--email", "agent@example.com", "--name", "CI", "--expires-days", "30")
	token = strings.TrimSpace(token)
	plain, _ := w.run(0, "token", "create", "--email", "agent@example.com") // the old form still works
	if !usable(token) || !usable(strings.TrimSpace(plain)) {
		t.Fatalf("created tokens %q %q do not work", token, plain)
	}
	list, _ := w.run(0, "token", "list", "--email", "agent@example.com")
	row := regexp.MustCompile(`(?m)^(\d+)\s+agent@example\.com\s+CI\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+\d{4}-\d\d-\d\d`).FindStringSubmatch(list)
	if row == nil || strings.Contains(list, token) {
		t.Fatalf("token list (want CI with created, last used and expiry, no secret):\n%s", list)
	}
	if _, stderr, code := w.runEnv(nil, "token", "create", "--email", "agent@example.com", "--name", "x", "--expires-days", "99999"); code != 2 || !strings.Contains(stderr, "expires_in_days") {
		t.Errorf("token for 99999 days: exit %d: %s", code, stderr)
	}

	w.run(0, "user", "set-role", "--email", "agent@example.com", "--role", "admin")
	if u, _ := w.store.UserByEmail(ctx, "agent@example.com"); !u.IsAdmin() {
		t.Errorf("set-role: %+v", u)
	}
	if _, stderr, code := w.runEnv(nil, "user", "set-role", "--email", "agent@example.com", "--role", "root"); code != 2 || !strings.Contains(stderr, "role") {
		t.Errorf("set-role root: exit %d: %s", code, stderr)
	}
	w.run(0, "user", "set-role", "--email", "agent@example.com", "--role", "agent")
	if _, stderr, code := w.runEnv(nil, "user", "disable", "--email", "admin@example.com"); code != 2 || !strings.Contains(stderr, "last active admin") {
		t.Errorf("disabling the last admin: exit %d: %s", code, stderr)
	}

	w.run(0, "user", "disable", "--email", "agent@example.com")
	if usable(token) {
		t.Error("a disabled user's token works")
	}
	if users, _ := w.run(0, "user", "list"); !regexp.MustCompile(`agent@example\.com\s+Aggie\s+agent\s+disabled`).MatchString(users) {
		t.Errorf("user list after disable:\n%s", users)
	}
	w.run(0, "user", "enable", "--email", "agent@example.com")
	if !usable(token) {
		t.Error("token refused after enable")
	}

	w.runEnv([]string{"NEWPW=second-password-2"}, "user", "reset-password", "--email", "agent@example.com", "--password-env", "NEWPW")
	if _, err := w.store.Authenticate(ctx, "agent@example.com", "second-password-2"); err != nil {
		t.Errorf("login with the reset password: %v", err)
	}

	w.run(0, "token", "revoke", "--id", row[1])
	if usable(token) {
		t.Error("a revoked token works")
	}
	if _, stderr, code := w.runEnv(nil, "token", "revoke", "--id", row[1]); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("revoking twice: exit %d: %s", code, stderr)
	}

	out, _ := w.run(0, "user", "delete", "--email", "agent@example.com", "--reassign-to", "admin@example.com")
	if !strings.Contains(out, "deleted agent@example.com") {
		t.Errorf("user delete printed %q", out)
	}
	if users, _ := w.run(0, "user", "list"); strings.Contains(users, "agent@example.com") {
		t.Errorf("deleted user listed:\n%s", users)
	}
	if usable(strings.TrimSpace(plain)) {
		t.Error("a deleted user's token works")
	}
	if _, stderr, code := w.runEnv(nil, "user", "disable", "--email", "nobody@example.com"); code != 2 || !strings.Contains(stderr, "no user nobody@example.com") {
		t.Errorf("unknown user: exit %d: %s", code, stderr)
	}
}
