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
              --imap-user U --imap-password-env VAR [--folder NAME]...
              or, instead of the password: --imap-auth oauth2
              --oauth-provider google|microsoft (or --oauth-token-url URL)
              --oauth-client-id ID --oauth-client-secret-env VAR --oauth-refresh-token-env VAR
  user add --email E --name N --role admin|agent --password-env VAR
  token create --email E       print a new API token for a user
  demo                         run everything on SQLite with a demo mailbox

configuration (environment): HELPDESK_DATABASE_URL, HELPDESK_REDIS_URL, HELPDESK_LISTEN,
HELPDESK_SECRET_KEY, HELPDESK_SMTP_URL (see README.md)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	err := dispatch(ctx, args, stdout, stderr, logger)
	var ue usageError
	var be busyError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "helpdesk: %s\n\n%s", ue.msg, usage)
		return exitUsage
	case errors.As(err, &be):
		fmt.Fprintf(stderr, "helpdesk: %v\n", err)
		return exitBusy
	case errors.Is(err, helpdesk.ErrNeedsReconnect):
		fmt.Fprintf(stderr, "helpdesk: %v\n", err)
		return exitReconnect
	default:
		fmt.Fprintf(stderr, "helpdesk: %v\n", err)
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
	case cmd == "token" && sub() == "create":
		return cmdTokenCreate(ctx, rest[1:], stdout)
	case cmd == "demo":
		return cmdDemo(ctx, rest, stdout, logger)
	case cmd == "help" || cmd == "-h" || cmd == "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}
