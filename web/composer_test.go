package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/notifier"
	"github.com/helpdesk/helpdesk/internal/testserver"
)

// mailboxEditForm is the edit form of the workspace's mailbox n as the
// page shows it (the stored password kept), with a signature.
func mailboxEditForm(n int, signature string) url.Values {
	in := mailboxInput(n)
	return url.Values{
		"name": {in.Name}, "email": {in.Email}, "imap_host": {in.IMAPHost}, "imap_port": {strconv.Itoa(in.IMAPPort)},
		"imap_security": {in.IMAPSecurity}, "imap_user": {in.IMAPUser}, "imap_password": {""}, "folders": {"INBOX"},
		"after_fetch": {"leave"}, "poll_interval_s": {"60"}, "max_message_bytes": {"1048576"}, "enabled": {"on"},
		"signature": {signature},
	}
}

// TestReplySignature: an admin sets a mailbox's signature on its edit
// page (a bad one is refused in place); the agent sees it under the reply
// box with their name, and their reply is stored and mailed with it, on
// the page and through the API alike.
func TestReplySignature(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		ctx := context.Background()
		admin, agent := w.session(t, w.admin), w.session(t, w.agent)
		edit := "/admin/mailboxes/" + itoa(w.mb1)

		for _, bad := range []string{"Regards, {{agnet}}", strings.Repeat("s", helpdesk.MaxSignatureLength+1)} {
			resp, body := admin.submit(edit, mailboxEditForm(1, bad))
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="signature"`) ||
				!strings.Contains(body, ">"+bad+"</textarea>") {
				t.Fatalf("signature %.30q: %d\n%s", bad, resp.StatusCode, between(t, body, `id="signature"`, "</textarea>"))
			}
		}
		if resp, body := admin.submit(edit, mailboxEditForm(1, "Best regards,\r\n{{agent}}\r\n{{mailbox}} team")); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("save signature: %d\n%s", resp.StatusCode, body)
		}
		if _, body := admin.get(edit + "/edit"); !strings.Contains(body, "Best regards,\n{{agent}}\n{{mailbox}} team</textarea>") {
			t.Errorf("edit form does not show the signature:\n%s", between(t, body, `id="signature"`, "</textarea>"))
		}
		signature := "Best regards,\nAggie Agent\nSupport 1 team"

		conv := "/conversations/" + itoa(w.c1)
		if _, page := agent.get(conv); !strings.Contains(page, "-- \n"+signature+"</div>") {
			t.Errorf("no signature preview:\n%s", between(t, page, `id="draft-state"`, "</h2>"))
		}
		resp, _ := agent.submit(conv+"/replies", url.Values{"body": {"Unplug it, then plug it in again.\n"}, "then": {"pending"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("reply: %d", resp.StatusCode)
		}
		status, out, _ := w.call(t, w.agentToken, http.MethodPost, "/api/v1/conversations/"+itoa(w.c1)+"/replies", `{"body": "And via the API."}`)
		if status != http.StatusCreated {
			t.Fatalf("API reply: %d %v", status, out)
		}
		want := []string{
			"Unplug it, then plug it in again.\n\n-- \n" + signature,
			"And via the API.\n\n-- \n" + signature,
		}
		d, err := w.store.Conversation(ctx, helpdesk.ViewerOf(w.agent), w.c1)
		if err != nil {
			t.Fatal(err)
		}
		var stored []string
		for _, th := range d.Threads {
			if th.Kind == "reply" {
				stored = append(stored, th.BodyText)
			}
		}
		if fmt.Sprint(stored) != fmt.Sprint(want) {
			t.Errorf("stored replies %q, want %q", stored, want)
		}

		// Through a real SMTP server: the mail carries the signature.
		sink := testserver.StartSMTP(t)
		n := notifier.New(w.store, notifier.Config{SMTPURL: sink.URL(), PollEvery: 20 * time.Millisecond})
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer n.Stop()
		got := map[string]bool{} // the mails to the customer (agents get notifications too)
		for seen := 1; len(got) < len(want); {
			msgs := sink.WaitMessages(t, seen, 30*time.Second)
			seen = len(msgs) + 1
			for _, m := range msgs {
				if fmt.Sprint(m.To) == "[alice@customer.example]" {
					got[strings.TrimRight(strings.ReplaceAll(plainText(m.Data), "\r\n", "\n"), "\n")] = true
				}
			}
		}
		for _, body := range want {
			if !got[body] {
				t.Errorf("no mail with %q; sent: %v", body, got)
			}
		}

		// A mailbox without a signature sends the text alone.
		if sig, err := w.store.Signature(ctx, helpdesk.ViewerOf(w.admin), w.c3); err != nil || sig != "" {
			t.Errorf("mailbox 2's signature %q, %v", sig, err)
		}
	})
}

// TestReplyDrafts: a draft is kept per agent and conversation, shown
// again when the agent opens the conversation, deleted with the reply;
// empty deletes it; a conversation the agent cannot see takes none.
func TestReplyDrafts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		ctx := context.Background()
		agent, admin := w.session(t, w.agent), w.session(t, w.admin)
		conv := "/conversations/" + itoa(w.c1)
		save := func(c *client, path, body string) int {
			resp, _ := c.submit(path+"/draft", url.Values{"body": {body}})
			return resp.StatusCode
		}
		if s := save(agent, conv, "Half <b>written</b>"); s != http.StatusNoContent {
			t.Fatalf("save draft: %d", s)
		}
		if s := save(admin, conv, "The admin's own draft"); s != http.StatusNoContent {
			t.Fatalf("admin's draft: %d", s)
		}
		_, page := agent.get(conv)
		if !strings.Contains(page, ">Half &lt;b&gt;written&lt;/b&gt;</textarea>") || !strings.Contains(page, "Your unsent draft is restored.") {
			t.Errorf("draft not restored:\n%s", between(t, page, "data-reply", "</textarea>"))
		}
		if _, page := admin.get(conv); !strings.Contains(page, ">The admin&#39;s own draft</textarea>") {
			t.Errorf("the admin's draft not restored:\n%s", between(t, page, "data-reply", "</textarea>"))
		}
		if s := save(agent, "/conversations/"+itoa(w.c3), "not mine"); s != http.StatusNotFound {
			t.Errorf("draft on a conversation of another mailbox: %d", s)
		}
		if resp, _ := agent.post(conv+"/draft", url.Values{"body": {"no token"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("draft without CSRF token: %d", resp.StatusCode)
		}
		if s := save(agent, conv, strings.Repeat("x", helpdesk.MaxBodyLength+1)); s != http.StatusUnprocessableEntity {
			t.Errorf("too long draft: %d", s)
		}
		if d, _ := w.store.Draft(ctx, helpdesk.ViewerOf(w.agent), w.c1); d != "Half <b>written</b>" {
			t.Errorf("refused saves changed the draft to %q", d)
		}

		// Sending deletes the sender's draft only.
		before, err := w.store.Conversation(ctx, helpdesk.ViewerOf(w.agent), w.c1)
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := agent.submit(conv+"/replies", url.Values{"body": {"Done."}, "then": {"pending"}, "version": {itoa(before.Version)}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("reply: %d", resp.StatusCode)
		}
		// A save from the page the reply was sent from, arriving late,
		// does not bring the sent text back.
		if resp, _ := agent.submit(conv+"/draft", url.Values{"body": {"Done."}, "version": {itoa(before.Version)}}); resp.StatusCode != http.StatusNoContent {
			t.Errorf("late save: %d", resp.StatusCode)
		}
		if d, _ := w.store.Draft(ctx, helpdesk.ViewerOf(w.agent), w.c1); d != "" {
			t.Errorf("draft after sending: %q", d)
		}
		if d, _ := w.store.Draft(ctx, helpdesk.ViewerOf(w.admin), w.c1); d != "The admin's own draft" {
			t.Errorf("the admin's draft after the agent's reply: %q", d)
		}
		if _, page := agent.get(conv); strings.Contains(page, "Your unsent draft") || !strings.Contains(page, "data-draft-url=\"/conversations/"+itoa(w.c1)+"/draft\"></textarea>") {
			t.Errorf("reply box after sending:\n%s", between(t, page, "data-reply", "</textarea>"))
		}
		if resp, _ := agent.submit(conv+"/draft", url.Values{"body": {"Next one"}, "version": {itoa(before.Version + 1)}}); resp.StatusCode != http.StatusNoContent {
			t.Errorf("save after the reply: %d", resp.StatusCode)
		}
		if d, _ := w.store.Draft(ctx, helpdesk.ViewerOf(w.agent), w.c1); d != "Next one" {
			t.Errorf("draft on the page after the reply: %q", d)
		}
		if resp, _ := agent.submit(conv+"/draft", url.Values{"body": {"x"}, "version": {"x"}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("version x: %d", resp.StatusCode)
		}
		// Blank deletes.
		save(admin, conv, "  \n")
		if d, _ := w.store.Draft(ctx, helpdesk.ViewerOf(w.admin), w.c1); d != "" {
			t.Errorf("blank draft kept: %q", d)
		}
	})
}
