// Command helpdesk is the one binary of the helpdesk: it migrates the
// database, runs the services (web, fetcher, notifier), runs one-shot
// fetches and administers mailboxes, users and tokens.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
	exitBusy  = 3 // another process holds the mailbox
	// exitReconnect: the mailbox's OAuth2 sign-in was revoked; an admin
	// must connect it again.
	exitReconnect = 4
)

// usageError is a wrong command line: exit 2 with the usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// busyError is another process fetching the mailbox: exit 3.
type busyError struct{ err error }

func (e busyError) Error() string { return e.err.Error() }
func (e busyError) Unwrap() error { return e.err }

const usage = `usage: helpdesk <command> [flags]

commands:
  migrate                      apply database migrations
  serve [--roles web,fetcher,notifier]
                               run the services (all roles by default)
  fetch --mailbox ID [--json]  fetch one mailbox once (exit 3 if another process is fetching it,
                               exit 4 if the mailbox must be reconnected)
  mailbox add --name N --email E --imap-host H --imap-port P --imap-security none|starttls|tls
              --imap-user U --imap-password-env VAR [--folder NAME]... [--imap-allow-insecure]
              [--signature TEXT]
              or, instead of the password: --imap-auth oauth2
              --oauth-provider google|microsoft (or --oauth-token-url URL)
              --oauth-client-id ID --oauth-client-secret-env VAR --oauth-refresh-token-env VAR
  user add --email E --name N --role admin|agent --password-env VAR
  user list                    list users with role and status
  user disable|enable --email E
                               shut a user out at once (sessions, API tokens) or let them in again
  user set-role --email E --role admin|agent
  user reset-password --email E --password-env VAR
                               set a new password; the user's sessions end
  user delete --email E [--reassign-to EMAIL]
                               delete a user; open conversations go to EMAIL or unassigned
  token create --email E [--name N] [--expires-days D]
                               print a new API token for a user (shown once)
  token list [--email E]       list API tokens with created, last used and expiry
  token revoke --id N          revoke an API token at once
  demo                         run everything on SQLite with a demo mailbox

configuration (environment): HELPDESK_DATABASE_URL, HELPDESK_REDIS_URL, HELPDESK_LISTEN,
HELPDESK_SECRET_KEY, HELPDESK_SMTP_URL, HELPDESK_METRICS_TOKEN (see README.md)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Every log line and error message passes through helpdesk.Redact:
	// an error may quote a URL with its password.
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: helpdesk.RedactLogAttr}))
	err := dispatch(ctx, args, stdout, stderr, logger)
	var ue usageError
	var be busyError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "helpdesk: %s\n\n%s", helpdesk.Redact(ue.msg), usage)
		return exitUsage
	case errors.As(err, &be):
		fmt.Fprintf(stderr, "helpdesk: %s\n", helpdesk.Redact(err.Error()))
		return exitBusy
	case errors.Is(err, helpdesk.ErrNeedsReconnect):
		fmt.Fprintf(stderr, "helpdesk: %v\n", err)
		return exitReconnect
	default:
		fmt.Fprintf(stderr, "helpdesk: %s\n", helpdesk.Redact(err.Error()))
		return exitError
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer, logger *slog.Logger) error {
	if len(args) == 0 {
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	sub := func() string {
		if len(rest) == 0 {
			return ""
		}
		return rest[0]
	}
	switch {
	case cmd == "migrate":
		return cmdMigrate(ctx, rest, stdout)
	case cmd == "serve":
		return cmdServe(ctx, rest, logger)
	case cmd == "fetch":
		return cmdFetch(ctx, rest, stdout, stderr, logger)
	case cmd == "mailbox" && sub() == "add":
		return cmdMailboxAdd(ctx, rest[1:], stdout)
	case cmd == "user" && sub() == "add":
		return cmdUserAdd(ctx, rest[1:], stdout)
	case cmd == "user" && sub() == "list":
		return cmdUserList(ctx, rest[1:], stdout)
	case cmd == "user" && sub() == "disable":
		return cmdUserDisabled(ctx, rest[1:], stdout, true)
	case cmd == "user" && sub() == "enable":
		return cmdUserDisabled(ctx, rest[1:], stdout, false)
	case cmd == "user" && sub() == "set-role":
		return cmdUserSetRole(ctx, rest[1:], stdout)
	case cmd == "user" && sub() == "reset-password":
		return cmdUserResetPassword(ctx, rest[1:], stdout)
	case cmd == "user" && sub() == "delete":
		return cmdUserDelete(ctx, rest[1:], stdout)
	case cmd == "token" && sub() == "create":
		return cmdTokenCreate(ctx, rest[1:], stdout)
	case cmd == "token" && sub() == "list":
		return cmdTokenList(ctx, rest[1:], stdout)
	case cmd == "token" && sub() == "revoke":
		return cmdTokenRevoke(ctx, rest[1:], stdout)
	case cmd == "demo":
		return cmdDemo(ctx, rest, stdout, logger)
	case cmd == "help" || cmd == "-h" || cmd == "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}
