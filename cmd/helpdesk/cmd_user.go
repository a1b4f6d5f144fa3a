package main

import (
	"context"
	"errors"
	"fmt"
	"io"

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
	var ve *helpdesk.ValidationError
	if errors.As(err, &ve) {
		return usageError{"user add: " + ve.Error()}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s %s <%s>\n%d\n", u.Role, u.Name, u.Email, u.ID)
	return nil
}

func cmdTokenCreate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("token create")
	email := fs.String("email", "", "the user's e-mail address")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return usageError{"token create: --email is required"}
	}
	store, err := openConfiguredStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	token, err := store.CreateAPIToken(ctx, *email)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	return nil
}

func openConfiguredStore(ctx context.Context) (*store.Store, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	return openStore(ctx, cfg, false)
}
