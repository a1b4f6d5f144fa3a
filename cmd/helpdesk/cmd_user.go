package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
)

func cmdUserAdd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("user add")
	var in helpdesk.UserInput
	var passwordEnv string
	fs.StringVar(&in.Email, "email", "", "login e-mail address")
	fs.StringVar(&in.Name, "name", "", "display name")
	fs.StringVar(&in.Role, "role", "agent", "admin or agent")
	fs.StringVar(&passwordEnv, "password-env", "", "environment variable holding the password")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	password, err := secretFromEnv("password-env", passwordEnv)
	if err != nil {
		return err
	}
	in.Password = password
	store, err := openConfiguredStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.CreateUser(ctx, in)
	if err != nil {
		return asUsageError("user add", err)
	}
	fmt.Fprintf(stdout, "created %s %s <%s>\n%d\n", u.Role, u.Name, u.Email, u.ID)
	return nil
}

func cmdUserList(ctx context.Context, args []string, stdout io.Writer) error {
	if err := parseFlags(newFlagSet("user list"), args); err != nil {
		return err
	}
	st, err := openConfiguredStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	users, err := st.Users(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tEMAIL\tNAME\tROLE\tSTATUS")
	for _, u := range users {
		status := "active"
		if u.Disabled() {
			status = "disabled"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Name, u.Role, status)
	}
	return w.Flush()
}

// cmdUserDisabled is `user disable` and `user enable`.
func cmdUserDisabled(ctx context.Context, args []string, stdout io.Writer, disable bool) error {
	name, done := "user enable", "enabled"
	if disable {
		name, done = "user disable", "disabled"
	}
	return withUser(ctx, name, args, nil, func(st *store.Store, u *helpdesk.User) error {
		if err := st.SetUserDisabled(ctx, u.ID, disable); err != nil {
			return asUsageError(name, err)
		}
		fmt.Fprintf(stdout, "%s %s\n", done, u.Email)
		return nil
	})
}

func cmdUserSetRole(ctx context.Context, args []string, stdout io.Writer) error {
	var role string
	flags := func(fs *flag.FlagSet) { fs.StringVar(&role, "role", "", "admin or agent") }
	return withUser(ctx, "user set-role", args, flags, func(st *store.Store, u *helpdesk.User) error {
		if err := st.SetUserRole(ctx, u.ID, role); err != nil {
			return asUsageError("user set-role", err)
		}
		fmt.Fprintf(stdout, "%s is now %s\n", u.Email, role)
		return nil
	})
}

func cmdUserResetPassword(ctx context.Context, args []string, stdout io.Writer) error {
	var passwordEnv string
	flags := func(fs *flag.FlagSet) {
		fs.StringVar(&passwordEnv, "password-env", "", "environment variable holding the new password")
	}
	return withUser(ctx, "user reset-password", args, flags, func(st *store.Store, u *helpdesk.User) error {
		password, err := secretFromEnv("password-env", passwordEnv)
		if err != nil {
			return err
		}
		if err := st.ResetPassword(ctx, u.ID, password); err != nil {
			return asUsageError("user reset-password", err)
		}
		fmt.Fprintf(stdout, "password of %s reset; their sessions ended\n", u.Email)
		return nil
	})
}

func cmdUserDelete(ctx context.Context, args []string, stdout io.Writer) error {
	var reassignTo string
	flags := func(fs *flag.FlagSet) {
		fs.StringVar(&reassignTo, "reassign-to", "", "e-mail address of the user who takes over the open conversations (default: unassigned)")
	}
	return withUser(ctx, "user delete", args, flags, func(st *store.Store, u *helpdesk.User) error {
		var toID int64
		if reassignTo != "" {
			to, err := st.UserByEmail(ctx, reassignTo)
			if errors.Is(err, helpdesk.ErrNotFound) {
				return usageError{fmt.Sprintf("user delete: --reassign-to: no user %s", reassignTo)}
			}
			if err != nil {
				return err
			}
			toID = to.ID
		}
		r, err := st.DeleteUser(ctx, u.ID, toID, 0)
		if err != nil {
			return asUsageError("user delete", err)
		}
		fmt.Fprintf(stdout, "deleted %s; open conversations: %d reassigned to %s, %d unassigned\n",
			u.Email, r.ToUser, cmp.Or(reassignTo, "nobody"), r.Unassigned)
		return nil
	})
}

// withUser parses --email and the command's own flags, opens the store
// and runs fn on the user with that address.
func withUser(ctx context.Context, name string, args []string, flags func(*flag.FlagSet), fn func(*store.Store, *helpdesk.User) error) error {
	fs := newFlagSet(name)
	email := fs.String("email", "", "the user's e-mail address")
	if flags != nil {
		flags(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return usageError{name + ": --email is required"}
	}
	st, err := openConfiguredStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.UserByEmail(ctx, *email)
	if errors.Is(err, helpdesk.ErrNotFound) {
		return usageError{fmt.Sprintf("%s: no user %s", name, *email)}
	}
	if err != nil {
		return err
	}
	return fn(st, u)
}

// asUsageError makes the domain's validation errors usage errors (exit 2)
// of the command name.
func asUsageError(name string, err error) error {
	var ve *helpdesk.ValidationError
	if errors.As(err, &ve) {
		return usageError{name + ": " + ve.Error()}
	}
	return err
}

func openConfiguredStore(ctx context.Context) (*store.Store, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	return openStore(ctx, cfg, false)
}
