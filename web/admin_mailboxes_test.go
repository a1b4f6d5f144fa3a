package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
)

func validMailboxForm() url.Values {
	return url.Values{
		"name": {"Sales"}, "email": {"sales@example.com"}, "imap_host": {"imap.example.com"}, "imap_port": {"993"},
		"imap_security": {"tls"}, "imap_user": {"sales"}, "imap_password": {"sales-imap-password"},
		"folders": {"INBOX\r\nArchive/2024"}, "after_fetch": {"seen"}, "move_to_folder": {""},
		"poll_interval_s": {"120"}, "max_message_bytes": {"1048576"}, "import_since": {"2024-01-31"},
		"smtp_url": {""}, "enabled": {"on"},
	}
}

func TestMailboxAdmin(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		ctx := context.Background()
		admin := e.session(t, e.admin)

		if resp, body := admin.get("/admin/mailboxes/new"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="imap_host"`) {
			t.Fatalf("new form: %d", resp.StatusCode)
		}
		resp, body := admin.submit("/admin/mailboxes", validMailboxForm())
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create: %d\n%s", resp.StatusCode, body)
		}
		var id int64
		if _, err := fmt.Sscanf(resp.Header.Get("Location"), "/admin/mailboxes/%d?notice=created", &id); err != nil {
			t.Fatalf("location %q", resp.Header.Get("Location"))
		}
		m, err := e.store.Mailbox(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Name != "Sales" || m.IMAPPort != 993 || m.AfterFetch != "seen" || !reflect.DeepEqual(m.Folders, []string{"Archive/2024", "INBOX"}) ||
			m.PollIntervalS != 120 || m.MaxMessageBytes != 1<<20 || m.ImportSince == nil || !m.Enabled || m.AutoAck {
			t.Fatalf("stored: %+v", m)
		}
		if pw, _ := e.store.IMAPPassword(m); pw != "sales-imap-password" {
			t.Fatalf("password %q", pw)
		}
		if _, body := admin.get(fmt.Sprintf("/admin/mailboxes/%d?notice=created", id)); !strings.Contains(body, "Mailbox created.") {
			t.Fatal("no confirmation")
		}

		// The stored password never goes back to the browser.
		for _, p := range []string{"/admin/mailboxes/%d/edit", "/admin/mailboxes/%d", "/admin/mailboxes", "/admin/status"} {
			_, body := admin.get(fmt.Sprintf(strings.ReplaceAll(p, "%d", fmt.Sprint(id)), nil...))
			if strings.Contains(body, "sales-imap-password") || strings.Contains(body, m.IMAPPasswordEnc) || strings.Contains(body, "v1:") {
				t.Errorf("%s shows the stored password", p)
			}
		}
		_, body = admin.get(fmt.Sprintf("/admin/mailboxes/%d/edit", id))
		if !strings.Contains(body, `name="imap_password" value=""`) || !strings.Contains(body, "stored; leave empty to keep it") {
			t.Errorf("edit form password field:\n%s", between(t, body, `id="imap_password"`, ">"))
		}

		// Edit without a password keeps it; after-fetch move needs a folder.
		f := validMailboxForm()
		f.Set("imap_password", "")
		f.Set("after_fetch", "move")
		f.Set("name", "Sales EU")
		resp, body = admin.submit(fmt.Sprintf("/admin/mailboxes/%d", id), f)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="move_to_folder"`) {
			t.Fatalf("move without folder: %d\n%s", resp.StatusCode, body)
		}
		if !strings.Contains(body, `value="Sales EU"`) {
			t.Error("the form lost what was typed")
		}
		f.Set("move_to_folder", "Done")
		if resp, body := admin.submit(fmt.Sprintf("/admin/mailboxes/%d", id), f); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("update: %d\n%s", resp.StatusCode, body)
		}
		m2, _ := e.store.Mailbox(ctx, id)
		if m2.Name != "Sales EU" || m2.AfterFetch != "move" || m2.MoveToFolder != "Done" || m2.IMAPPasswordEnc != m.IMAPPasswordEnc {
			t.Fatalf("after update: %+v", m2)
		}

		// Another mailbox may not take the same address: the error is beside the field.
		resp, body = admin.submit("/admin/mailboxes", validMailboxForm())
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="email"`) {
			t.Fatalf("duplicate address: %d", resp.StatusCode)
		}

		// Disable and enable.
		resp, _ = admin.submit(fmt.Sprintf("/admin/mailboxes/%d/enabled", id), url.Values{"enabled": {"false"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("disable: %d", resp.StatusCode)
		}
		if m, _ := e.store.Mailbox(ctx, id); m.Enabled {
			t.Fatal("still enabled")
		}
		if _, body := admin.get("/admin/mailboxes"); !strings.Contains(body, `<span class="bad">off</span>`) {
			t.Error("list does not show disabled")
		}
		admin.submit(fmt.Sprintf("/admin/mailboxes/%d/enabled", id), url.Values{"enabled": {"true"}})
		if m, _ := e.store.Mailbox(ctx, id); !m.Enabled {
			t.Fatal("not enabled again")
		}
	})
}

func TestTestConnection(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		var gotMailbox int64
		var fail bool
		e := setup(t, dialect, func(c *Config) {
			c.TestConnection = func(ctx context.Context, m *helpdesk.Mailbox) error {
				gotMailbox = m.ID
				if fail {
					return errIMAPLogin
				}
				return nil
			}
		})
		id := e.mailbox(t, 1)
		admin := e.session(t, e.admin)
		resp, body := admin.submit(fmt.Sprintf("/admin/mailboxes/%d/test", id), nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Connection test passed") || gotMailbox != id {
			t.Fatalf("passing test: %d, tested mailbox %d, want %d", resp.StatusCode, gotMailbox, id)
		}
		fail = true
		_, body = admin.submit(fmt.Sprintf("/admin/mailboxes/%d/test", id), nil)
		// The server's exact answer, escaped.
		want := "imap: login: NO [AUTHENTICATIONFAILED] Authentication failed. &lt;script&gt;alert(1)&lt;/script&gt;"
		if !strings.Contains(body, want) || strings.Contains(body, "<script>alert") {
			t.Fatalf("failing test does not show the answer:\n%s", between(t, body, `data-field="test-result"`, "</div>"))
		}
		if strings.Contains(body, "imap-secret-password") {
			t.Fatal("password shown")
		}
	})
}

func TestTestConnectionUnavailable(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite")
	id := e.mailbox(t, 1)
	if resp, _ := e.session(t, e.admin).submit(fmt.Sprintf("/admin/mailboxes/%d/test", id), nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%d", resp.StatusCode)
	}
}

func TestUsersAdmin(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		ctx := context.Background()
		a, b := e.mailbox(t, 1), e.mailbox(t, 2)
		admin := e.session(t, e.admin)
		resp, body := admin.submit("/admin/users", url.Values{"email": {"New@Example.com"}, "name": {"Nia New"}, "role": {"agent"}, "password": {"a-long-password"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create user: %d\n%s", resp.StatusCode, body)
		}
		u, err := e.store.UserByEmail(ctx, "new@example.com")
		if err != nil || u.Role != "agent" {
			t.Fatalf("%v %v", u, err)
		}
		if _, err := e.store.Authenticate(ctx, "new@example.com", "a-long-password"); err != nil {
			t.Fatal(err)
		}
		resp, _ = admin.submit(fmt.Sprintf("/admin/users/%d/mailboxes", u.ID), url.Values{"mailbox": {fmt.Sprint(a), fmt.Sprint(b)}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("set access: %d", resp.StatusCode)
		}
		if ids, _ := e.store.UserMailboxIDs(ctx, u.ID); !reflect.DeepEqual(ids, []int64{a, b}) {
			t.Fatalf("access %v", ids)
		}
		_, body = admin.get("/admin/users")
		if !strings.Contains(body, "Nia New") || strings.Contains(body, "a-long-password") || strings.Contains(body, "$argon2id") {
			t.Fatal("users page")
		}
		resp, _ = admin.submit(fmt.Sprintf("/admin/users/%d/mailboxes", u.ID), nil)
		if ids, _ := e.store.UserMailboxIDs(ctx, u.ID); resp.StatusCode != http.StatusSeeOther || len(ids) != 0 {
			t.Fatalf("clear access: %d %v", resp.StatusCode, ids)
		}
	})
}
