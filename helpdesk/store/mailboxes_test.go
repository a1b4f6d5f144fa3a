package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// An edit without a password keeps the stored one only while it would go
// where it went before; otherwise whoever may edit the mailbox could point
// it at a server of their own and receive the password.
func TestMailboxPasswordStaysWithItsServer(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := teststore.Open(t, dialect)
			base := helpdesk.MailboxInput{
				Name: "Support", Email: "support@example.com", IMAPHost: "imap.example.com", IMAPPort: 993,
				IMAPSecurity: "tls", IMAPUser: "support", IMAPPassword: "first-password",
			}
			id, err := s.CreateMailbox(ctx, base)
			if err != nil {
				t.Fatal(err)
			}
			password := func() string {
				t.Helper()
				m, err := s.Mailbox(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				p, err := s.IMAPPassword(m)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			edit := func(change func(*helpdesk.MailboxInput)) helpdesk.MailboxInput {
				in := base
				in.IMAPPassword = ""
				change(&in)
				return in
			}
			for name, in := range map[string]helpdesk.MailboxInput{
				"host":                     edit(func(in *helpdesk.MailboxInput) { in.IMAPHost = "imap.attacker.example" }),
				"port":                     edit(func(in *helpdesk.MailboxInput) { in.IMAPPort = 9993 }),
				"user":                     edit(func(in *helpdesk.MailboxInput) { in.IMAPUser = "someone-else" }),
				"security":                 edit(func(in *helpdesk.MailboxInput) { in.IMAPSecurity = "starttls" }),
				"security none, allowed":   edit(func(in *helpdesk.MailboxInput) { in.IMAPSecurity, in.IMAPAllowInsecure = "none", true }),
				"host to localhost, plain": edit(func(in *helpdesk.MailboxInput) { in.IMAPHost, in.IMAPSecurity = "127.0.0.1", "none" }),
			} {
				var ve *helpdesk.ValidationError
				if err := s.UpdateMailbox(ctx, id, in); !errors.As(err, &ve) || ve.Fields["imap_password"] == "" {
					t.Errorf("%s changed without the password: %v, want an imap_password error", name, err)
				}
			}
			m, err := s.Mailbox(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if m.IMAPHost != "imap.example.com" || m.IMAPPort != 993 || m.IMAPUser != "support" || m.IMAPSecurity != "tls" || password() != "first-password" {
				t.Fatalf("refused edits changed the mailbox: %+v", m)
			}

			// The same server with other settings keeps the password; a
			// new server with its password is fine.
			if err := s.UpdateMailbox(ctx, id, edit(func(in *helpdesk.MailboxInput) { in.Name, in.IMAPHost = "Renamed", "IMAP.example.com" })); err != nil {
				t.Fatalf("rename without the password: %v", err)
			}
			if password() != "first-password" {
				t.Error("the stored password changed on a rename")
			}
			if err := s.UpdateMailbox(ctx, id, edit(func(in *helpdesk.MailboxInput) { in.IMAPHost, in.IMAPPassword = "imap2.example.com", "second-password" })); err != nil {
				t.Fatalf("new host with its password: %v", err)
			}
			if password() != "second-password" {
				t.Error("the new password was not stored")
			}
		})
	}
}

// Security none sends the password in clear: to this machine always, to
// another host only when the mailbox allows it explicitly.
func TestMailboxPlaintextLoginNeedsPermission(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := teststore.Open(t, "sqlite")
	in := helpdesk.MailboxInput{
		Name: "Support", Email: "support@example.com", IMAPHost: "imap.example.com", IMAPPort: 143,
		IMAPSecurity: "none", IMAPUser: "support", IMAPPassword: "password",
	}
	var ve *helpdesk.ValidationError
	if _, err := s.CreateMailbox(ctx, in); !errors.As(err, &ve) || ve.Fields["imap_security"] == "" {
		t.Fatalf("security none to another host: %v, want an imap_security error", err)
	}
	for _, host := range []string{"127.0.0.1", "localhost", "::1"} {
		local := in
		local.IMAPHost, local.Email = host, "support-"+host+"@example.com"
		if host == "::1" {
			local.Email = "support-v6@example.com"
		}
		if _, err := s.CreateMailbox(ctx, local); err != nil {
			t.Errorf("security none to %s: %v", host, err)
		}
	}
	in.IMAPAllowInsecure = true
	id, err := s.CreateMailbox(ctx, in)
	if err != nil {
		t.Fatalf("security none to another host, allowed: %v", err)
	}
	m, err := s.Mailbox(ctx, id)
	if err != nil || !m.IMAPAllowInsecure {
		t.Fatalf("allow-insecure not stored: %+v %v", m, err)
	}
	if err := m.CheckPlaintextLogin(); err != nil {
		t.Errorf("allowed mailbox refused: %v", err)
	}
	m.IMAPAllowInsecure = false
	if err := m.CheckPlaintextLogin(); err == nil {
		t.Error("a mailbox with security none to another host, not allowed, may log in")
	}
}
