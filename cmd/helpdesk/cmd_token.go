package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
)

func cmdTokenCreate(ctx context.Context, args []string, stdout io.Writer) error {
	var in helpdesk.APITokenInput
	flags := func(fs *flag.FlagSet) {
		fs.StringVar(&in.Name, "name", "command line", "what the token is for")
		fs.IntVar(&in.ExpiresInDays, "expires-days", 0, "days until the token expires (0: never)")
	}
	return withUser(ctx, "token create", args, flags, func(st *store.Store, u *helpdesk.User) error {
		token, _, err := st.CreateAPIToken(ctx, u.ID, in)
		if err != nil {
			return asUsageError("token create", err)
		}
		fmt.Fprintln(stdout, token)
		return nil
	})
}

func cmdTokenList(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("token list")
	email := fs.String("email", "", "only this user's tokens")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := openConfiguredStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	var userID int64
	if *email != "" {
		u, err := st.UserByEmail(ctx, *email)
		if err != nil {
			return asUsageError("token list", err)
		}
		userID = u.ID
	}
	tokens, err := st.APITokens(ctx, userID)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tUSER\tNAME\tCREATED\tLAST USED\tEXPIRES")
	for _, tk := range tokens {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", tk.ID, tk.UserEmail, tk.Name,
			cliTime(&tk.CreatedAt, "-"), cliTime(tk.LastUsedAt, "never"), cliTime(tk.ExpiresAt, "never"))
	}
	return w.Flush()
}

func cmdTokenRevoke(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("token revoke")
	id := fs.Int64("id", 0, "the token's ID (see token list)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id <= 0 {
		return usageError{"token revoke: --id is required"}
	}
	st, err := openConfiguredStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.RevokeAPIToken(ctx, *id, 0); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked token %d\n", *id)
	return nil
}

// cliTime formats a time for a listing, none when it is absent.
func cliTime(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
