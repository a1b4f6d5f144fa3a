package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

// secretFromEnv reads a password from the named environment variable, so it
// never shows in the process list or shell history.
func secretFromEnv(flagName, varName string) (string, error) {
	if varName == "" {
		return "", usageError{fmt.Sprintf("--%s is required", flagName)}
	}
	v, ok := os.LookupEnv(varName)
	if !ok || v == "" {
		return "", fmt.Errorf("--%s: environment variable %s is not set", flagName, varName)
	}
	return v, nil
}

func cmdMailboxAdd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("mailbox add")
	var in helpdesk.MailboxInput
	var folders stringList
	var passwordEnv, importSince, secretEnv, refreshEnv string
	fs.StringVar(&in.Name, "name", "", "display name")
	fs.StringVar(&in.Email, "email", "", "support address")
	fs.StringVar(&in.IMAPHost, "imap-host", "", "IMAP host")
	fs.IntVar(&in.IMAPPort, "imap-port", 993, "IMAP port")
	fs.StringVar(&in.IMAPSecurity, "imap-security", "tls", "none, starttls or tls")
	fs.BoolVar(&in.IMAPAllowInsecure, "imap-allow-insecure", false, "let security none send the password unencrypted to a host other than this machine")
	fs.StringVar(&in.IMAPUser, "imap-user", "", "IMAP user name")
	fs.StringVar(&passwordEnv, "imap-password-env", "", "environment variable holding the IMAP password")
	fs.StringVar(&in.IMAPAuth, "imap-auth", helpdesk.AuthPassword, "password or oauth2")
	fs.StringVar(&in.OAuth.Provider, "oauth-provider", "", "google, microsoft, or empty for a generic provider (--oauth-token-url)")
	fs.StringVar(&in.OAuth.TokenURL, "oauth-token-url", "", "token endpoint of a generic OAuth2 provider")
	fs.StringVar(&in.OAuth.AuthURL, "oauth-auth-url", "", "authorization endpoint of a generic OAuth2 provider (for Connect)")
	fs.StringVar(&in.OAuth.Scopes, "oauth-scopes", "", "space-separated scopes (default: the provider's for IMAP and SMTP)")
	fs.StringVar(&in.OAuth.ClientID, "oauth-client-id", "", "OAuth2 client ID")
	fs.StringVar(&secretEnv, "oauth-client-secret-env", "", "environment variable holding the OAuth2 client secret")
	fs.StringVar(&refreshEnv, "oauth-refresh-token-env", "", "environment variable holding the OAuth2 refresh token")
	fs.Var(&folders, "folder", "folder to fetch (repeatable; default INBOX)")
	fs.StringVar(&in.AfterFetch, "after-fetch", "leave", "leave, seen or move")
	fs.StringVar(&in.MoveToFolder, "move-to", "", "folder to move fetched mail to (with --after-fetch move)")
	fs.IntVar(&in.PollIntervalS, "poll-interval", 60, "seconds between scheduled fetches")
	fs.Int64Var(&in.MaxMessageBytes, "max-message-bytes", 25<<20, "larger messages are quarantined")
	fs.StringVar(&in.Signature, "signature", "", "appended to every reply from this mailbox; {{agent}} and {{mailbox}} are filled in")
	fs.StringVar(&importSince, "import-since", "", "first import: only mail received since this date (YYYY-MM-DD)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := readSignIn(&in, passwordEnv, secretEnv, refreshEnv); err != nil {
		return err
	}
	in.Folders = folders
	in.Enabled = true
	if importSince != "" {
		t, err := time.Parse("2006-01-02", importSince)
		if err != nil {
			return usageError{"--import-since: want YYYY-MM-DD"}
		}
		in.ImportSince = &t
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer store.Close()
	id, err := store.CreateMailbox(ctx, in)
	var ve *helpdesk.ValidationError
	if errors.As(err, &ve) {
		return usageError{"mailbox add: " + ve.Error()}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created mailbox %s <%s>\n%d\n", in.Name, in.Email, id)
	return nil
}

// readSignIn reads the password, or the OAuth2 client secret and refresh
// token, from the environment variables named on the command line.
func readSignIn(in *helpdesk.MailboxInput, passwordEnv, secretEnv, refreshEnv string) error {
	var err error
	if in.IMAPAuth != helpdesk.AuthOAuth2 {
		in.IMAPPassword, err = secretFromEnv("imap-password-env", passwordEnv)
		return err
	}
	if passwordEnv != "" {
		return usageError{"--imap-password-env: an OAuth2 mailbox signs in with tokens, not a password"}
	}
	if in.OAuth.Provider == "" && in.OAuth.TokenURL == "" {
		return usageError{"--imap-auth oauth2 needs --oauth-provider google|microsoft or --oauth-token-url URL"}
	}
	if p, ok := helpdesk.OAuthProviders[in.OAuth.Provider]; ok && in.IMAPHost == "" {
		in.IMAPHost = p.IMAPHost
	}
	if secretEnv != "" {
		if in.OAuth.ClientSecret, err = secretFromEnv("oauth-client-secret-env", secretEnv); err != nil {
			return err
		}
	}
	in.OAuth.RefreshToken, err = secretFromEnv("oauth-refresh-token-env", refreshEnv)
	return err
}
