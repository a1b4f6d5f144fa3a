package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/internal/teststore"
)

// `mailbox add` with security none to another host is refused unless
// --imap-allow-insecure says so, as the admin form is.
func TestMailboxAddPlaintextToAnotherHost(t *testing.T) {
	t.Parallel()
	w := newWorld(t, teststore.URL(t, "sqlite"))
	env := []string{"TEST_IMAP_PASSWORD=imap-pass"}
	args := []string{"mailbox", "add", "--name", "Support", "--email", "support@example.test",
		"--imap-host", "imap.example.test", "--imap-port", "143", "--imap-security", "none",
		"--imap-user", "support", "--imap-password-env", "TEST_IMAP_PASSWORD"}
	_, stderr, code := w.runEnv(env, args...)
	if code != exitUsage || !strings.Contains(stderr, "imap_security") {
		t.Fatalf("without --imap-allow-insecure: exit %d\n%s", code, stderr)
	}
	stdout, stderr, code := w.runEnv(env, append(args, "--imap-allow-insecure")...)
	if code != exitOK {
		t.Fatalf("with --imap-allow-insecure: exit %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	id, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		t.Fatalf("last line %q is not an ID", lines[len(lines)-1])
	}
	m, err := w.store.Mailbox(context.Background(), id)
	if err != nil || !m.IMAPAllowInsecure {
		t.Fatalf("stored: %+v %v", m, err)
	}
}

// `mailbox add --signature` stores the mailbox's signature, checked as the
// admin form checks it: an unknown placeholder is refused, naming it.
func TestMailboxAddSignature(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			w := newWorld(t, teststore.URL(t, dialect))
			env := []string{"TEST_IMAP_PASSWORD=imap-pass"}
			args := []string{"mailbox", "add", "--name", "Support", "--email", "support@example.test",
				"--imap-host", "imap.example.test", "--imap-user", "support", "--imap-password-env", "TEST_IMAP_PASSWORD"}
			_, stderr, code := w.runEnv(env, append(args, "--signature", "Best, {{agnet}}")...)
			if code != exitUsage || !strings.Contains(stderr, "unknown placeholder {{agnet}}") {
				t.Fatalf("an unknown placeholder: exit %d\n%s", code, stderr)
			}
			stdout, stderr, code := w.runEnv(env, append(args, "--signature", "\r\nBest,\r\n{{agent}}, {{mailbox}}\r\n")...)
			if code != exitOK {
				t.Fatalf("with a signature: exit %d\n%s", code, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			id, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
			if err != nil {
				t.Fatalf("last line %q is not an ID", lines[len(lines)-1])
			}
			m, err := w.store.Mailbox(context.Background(), id)
			if err != nil || m.Signature != "Best,\n{{agent}}, {{mailbox}}" {
				t.Fatalf("stored signature %q, %v", m.Signature, err)
			}
		})
	}
}
