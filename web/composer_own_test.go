package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// TestOwnMailboxesNeverCopied: "reply all" leaves out every address of
// every mailbox of the helpdesk (not only the conversation's), and a Cc,
// Bcc or forward to one of them is refused in place (422 in the API)
// with nothing queued: it would come back in as a new conversation.
func TestOwnMailboxesNeverCopied(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		ctx := context.Background()
		in := mailboxInput(3)
		in.IMAPUser = "inbox3@example.net" // fetched too, so ours
		if _, err := w.store.CreateMailbox(ctx, in); err != nil {
			t.Fatal(err)
		}
		conv := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{
			From: helpdesk.Address{Email: "alice@customer.example"}, Subject: "Copies",
			Cc:   []helpdesk.Address{{Email: "Support2@example.com"}, {Email: "carol@partner.example"}, {Email: "inbox3@example.net"}, {Email: "support3@example.com"}},
			Text: "Hello all",
		}).ConversationID
		agent := w.session(t, w.agent)
		path := "/conversations/" + itoa(conv)
		if _, page := agent.get(path); !strings.Contains(page, `name="cc" form="conversation-form" value="carol@partner.example"`) {
			t.Errorf("reply all copies one of our own mailboxes:\n%s", page)
		}

		resp, page := agent.submitMultipart(path+"/replies", map[string]string{
			"body": "My typed answer", "cc": "carol@partner.example, SUPPORT2@example.com", "bcc": "Inbox3@Example.net", "then": "pending"}, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("a copy to our own mailbox: %d", resp.StatusCode)
		}
		for _, want := range []string{">My typed answer</textarea>", `data-error="cc"`, `data-error="bcc"`,
			"SUPPORT2@example.com is one of this helpdesk&#39;s own mailboxes", "Inbox3@Example.net is one of this helpdesk&#39;s own mailboxes"} {
			if !strings.Contains(page, want) {
				t.Errorf("the refused page lacks %q", want)
			}
		}
		resp, page = agent.submitMultipart(path+"/forward", map[string]string{"forward_to": "support1@example.com", "forward_note": "typed note"}, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "support1@example.com is one of this helpdesk&#39;s own mailboxes") ||
			!strings.Contains(page, ">typed note</textarea>") {
			t.Errorf("a forward to our own mailbox: %d", resp.StatusCode)
		}
		code, out, _ := w.call(t, w.agentToken, "POST", "/api/v1/conversations/"+itoa(conv)+"/replies", `{"body": "x", "cc": ["support3@example.com"]}`)
		if fields, _ := out["fields"].(map[string]any); code != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(fields["cc"]), "own mailboxes") {
			t.Errorf("API reply copying our own mailbox: %d %v", code, out)
		}
		for _, kind := range []string{"reply", "forward"} {
			if rows, err := w.store.OutboxByKind(ctx, kind, 10); err != nil || len(rows) != 0 {
				t.Errorf("a refused %s was queued: %v %v", kind, rows, err)
			}
		}
	})
}
