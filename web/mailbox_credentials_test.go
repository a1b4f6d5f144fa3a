package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// The mailbox form guards the credentials it stores: an edit that points
// the mailbox elsewhere needs the IMAP password again, security none to
// another host needs the explicit allow-insecure box, and an SMTP URL the
// sender could not use is refused without being quoted.
func TestMailboxFormGuardsCredentials(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite")
	ctx := context.Background()
	admin := e.session(t, e.admin)
	resp, body := admin.submit("/admin/mailboxes", validMailboxForm())
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", resp.StatusCode, body)
	}
	var id int64
	if _, err := fmt.Sscanf(resp.Header.Get("Location"), "/admin/mailboxes/%d?notice=created", &id); err != nil {
		t.Fatalf("location %q", resp.Header.Get("Location"))
	}
	edit := fmt.Sprintf("/admin/mailboxes/%d", id)

	f := validMailboxForm()
	f.Set("imap_password", "")
	f.Set("imap_host", "imap.attacker.example")
	resp, body = admin.submit(edit, f)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="imap_password"`) {
		t.Fatalf("new host without the password: %d\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `value="imap.attacker.example"`) {
		t.Error("the form lost the typed host")
	}
	m, err := e.store.Mailbox(ctx, id)
	if err != nil || m.IMAPHost != "imap.example.com" {
		t.Fatalf("refused edit changed the host: %+v %v", m, err)
	}

	// Security none to another host: refused until allowed, then stored
	// and shown checked.
	f = validMailboxForm()
	f.Set("imap_security", "none")
	resp, body = admin.submit(edit, f)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="imap_security"`) {
		t.Fatalf("security none to another host: %d\n%s", resp.StatusCode, body)
	}
	f.Set("imap_allow_insecure", "on")
	if resp, body := admin.submit(edit, f); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("security none, allowed: %d\n%s", resp.StatusCode, body)
	}
	if m, err := e.store.Mailbox(ctx, id); err != nil || !m.IMAPAllowInsecure || m.IMAPSecurity != "none" {
		t.Fatalf("stored: %+v %v", m, err)
	}
	if _, body := admin.get(edit + "/edit"); !strings.Contains(body, `name="imap_allow_insecure" value="on" checked`) {
		t.Error("the edit form does not show unencrypted login allowed")
	}

	// SMTP URLs are checked with the sender's parser; the error quotes
	// nothing of the URL.
	for _, bad := range []string{
		"smtp://mailer:S3cretPW%zz@smtp.example.com:587",
		"smtp://mailer:4711/S3cretPW@smtp.example.com",
		"smtp://mailer:S3cretPW@smtp.example.com:99999",
	} {
		f := validMailboxForm()
		f.Set("email", "other@example.com")
		f.Set("smtp_url", bad)
		resp, body := admin.submit("/admin/mailboxes", f)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="smtp_url"`) {
			t.Errorf("SMTP URL %s: %d, want 422 naming smtp_url", bad, resp.StatusCode)
		}
		for _, piece := range []string{"S3cretPW", "4711", "%zz"} {
			if strings.Contains(body, piece) {
				t.Errorf("SMTP URL %s: the page shows %q", bad, piece)
			}
		}
	}
}
