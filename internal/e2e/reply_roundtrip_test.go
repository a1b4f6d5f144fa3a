package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/helpdesk/notifier"
	"github.com/helpdesk/helpdesk/internal/testserver"
)

// TestReplyRoundTrip: a customer mail is fetched from Dovecot; the agent
// answers through the API (with a Cc and a file); the notifier sends the answer to an SMTP
// server; the customer's answer to it (quoting its Message-ID, with a new
// subject) goes back into Dovecot, is fetched, and lands in the same
// conversation. A hostile subject cannot add header fields on the way, and
// a stranger who knows only our domain and the conversation number cannot
// get mail into the conversation.
func TestReplyRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := setup(t, "sqlite")
	d := testserver.StartDovecot(t)
	d.AddUser(t, "support", "secret-pass")
	mb := dovecotMailbox(t, e, d, "support")
	sink := testserver.StartSMTP(t)
	f := fetcher.New(e.store, fetcher.Config{Holder: "test"})
	fetch := func(wantNew int) {
		t.Helper()
		sum, err := f.RunLeased(ctx, e.local, fetcher.Job{MailboxID: mb, Trigger: "test"})
		if err != nil || sum.New != wantNew {
			t.Fatalf("fetch: %+v %v, want %d new", sum, err, wantNew)
		}
	}

	// Two customer mails: a plain one, and one whose encoded subject and
	// name carry line breaks and header fields.
	d.Append(t, "support", "INBOX", []byte("From: Alice <alice@customer.example>\r\nTo: support@example.test\r\n"+
		"Subject: Order 1234 missing\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\nMessage-ID: <order-1@customer.example>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMy order never came.\r\n"))
	d.Append(t, "support", "INBOX", []byte("From: =?utf-8?Q?Eve=0D=0ABcc:_x@evil.example?= <eve@customer.example>\r\nTo: support@example.test\r\n"+
		"Subject: =?utf-8?B?"+base64.StdEncoding.EncodeToString([]byte("Help\r\nBcc: victim@evil.example\r\nX-Injected: yes"))+"?=\r\nDate: Mon, 23 Nov 2026 09:01:00 +0000\r\n"+
		"Message-ID: <evil-1@customer.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi\r\n"))
	fetch(2)

	_, list, _ := e.call(t, e.agentToken, "GET", "/api/v1/conversations?q=order", "")
	ids := convIDs(t, list)
	if len(ids) != 1 {
		t.Fatalf("conversations about the order: %v", ids)
	}
	conv := ids[0]
	_, evilList, _ := e.call(t, e.agentToken, "GET", "/api/v1/conversations?q=eve%40customer", "")
	evil := convIDs(t, evilList)[0]

	label := []byte("%PDF-1.4 shipping label \x00\xff")
	code, reply, _ := e.call(t, e.agentToken, "POST", "/api/v1/conversations/"+itoa(conv)+"/replies", `{"body": "Sorry! It ships **today**.",
		"cc": ["warehouse@partner.example"], "attachments": [{"filename": "label.pdf", "content_type": "application/pdf", "content_base64": "`+
		base64.StdEncoding.EncodeToString(label)+`"}]}`)
	if code != 201 {
		t.Fatalf("reply: %d %v", code, reply)
	}
	replyID := reply["message_id"].(string)
	if code, out, _ := e.call(t, e.agentToken, "POST", "/api/v1/conversations/"+itoa(evil)+"/replies", `{"body": "Hello Eve."}`); code != 201 {
		t.Fatalf("reply to the hostile subject: %d %v", code, out)
	}

	n := notifier.New(e.store, notifier.Config{SMTPURL: sink.URL(), PollEvery: 50 * time.Millisecond, RetryBase: 100 * time.Millisecond})
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()

	// The notifier may also send agent notifications; pick the customers'.
	var toAlice, toEve *testserver.SMTPMessage
	deadline := time.Now().Add(30 * time.Second)
	for (toAlice == nil || toEve == nil) && time.Now().Before(deadline) {
		for _, m := range sink.Messages() {
			switch strings.Join(m.To, ",") {
			case "alice@customer.example,warehouse@partner.example":
				toAlice = &m
			case "eve@customer.example":
				toEve = &m
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if toAlice == nil || toEve == nil {
		t.Fatalf("replies not sent; the sink has %d messages", len(sink.Messages()))
	}
	msg, err := mail.ReadMessage(bytes.NewReader(toAlice.Data))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	from, _ := mail.ParseAddress(h.Get("From"))
	if from == nil || from.Address != "support@example.test" || toAlice.MessageID != "<"+replyID+">" ||
		h.Get("In-Reply-To") != "<order-1@customer.example>" || !strings.Contains(h.Get("References"), "<order-1@customer.example>") {
		t.Errorf("reply headers: %v (Message-ID %s, want <%s>)", h, toAlice.MessageID, replyID)
	}
	if h.Get("Cc") != "<warehouse@partner.example>" || !bytes.Contains(toAlice.Data, []byte(base64.StdEncoding.EncodeToString(label))) ||
		!strings.HasPrefix(h.Get("Content-Type"), "multipart/mixed") {
		t.Errorf("the reply's Cc %q, type %q, or its file is missing", h.Get("Cc"), h.Get("Content-Type"))
	}
	if subj, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject")); !strings.Contains(subj, fmt.Sprintf("[#%d]", conv)) || !strings.Contains(subj, "Order 1234 missing") {
		t.Errorf("reply subject %q lacks the [#%d] token", subj, conv)
	}

	evilMsg, err := mail.ReadMessage(bytes.NewReader(toEve.Data))
	if err != nil {
		t.Fatal(err)
	}
	if len(evilMsg.Header["Bcc"]) > 0 || len(evilMsg.Header["X-Injected"]) > 0 || len(toEve.To) != 1 {
		t.Errorf("a hostile subject injected header fields or recipients: %v to %v", evilMsg.Header, toEve.To)
	}

	// The customer answers with a new subject; only In-Reply-To ties it.
	d.Append(t, "support", "INBOX", []byte("From: Alice <alice@customer.example>\r\nTo: support@example.test\r\n"+
		"Subject: thanks!\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <order-2@customer.example>\r\n"+
		"In-Reply-To: <"+replyID+">\r\nReferences: <order-1@customer.example> <"+replyID+">\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGot it, thanks.\r\n"))
	fetch(1)

	_, detail, _ := e.call(t, e.agentToken, "GET", "/api/v1/conversations/"+itoa(conv), "")
	threads := detail["threads"].([]any)
	var kinds []string
	for _, th := range threads {
		kinds = append(kinds, th.(map[string]any)["kind"].(string))
	}
	if fmt.Sprint(kinds) != "[customer reply customer]" {
		t.Fatalf("threads of the conversation: %v", kinds)
	}
	last := threads[2].(map[string]any)
	if last["message_id"] != "order-2@customer.example" || !strings.Contains(last["body_text"].(string), "Got it") {
		t.Errorf("the answer: %v", last)
	}
	if _, all, _ := e.call(t, e.agentToken, "GET", "/api/v1/conversations", ""); len(convIDs(t, all)) != 2 {
		t.Errorf("the answer opened a new conversation: %v", convIDs(t, all))
	}

	// A stranger who knows our domain and the conversation number quotes
	// the reply's Message-ID as it could be computed (a hash of the thread
	// number, counting up, without the secret key) and the [#N] token.
	sum := sha256.Sum256([]byte(fmt.Sprintf("reply:%d", int64(reply["id"].(float64)))))
	guessed := "hd-" + hex.EncodeToString(sum[:12]) + "@example.test"
	d.Append(t, "support", "INBOX", []byte("From: Mallory <mallory@evil.example>\r\nTo: support@example.test\r\n"+
		fmt.Sprintf("Subject: Re: Order 1234 missing [#%d]\r\n", conv)+"Date: Mon, 23 Nov 2026 11:00:00 +0000\r\n"+
		"Message-ID: <mallory-1@evil.example>\r\nIn-Reply-To: <"+guessed+">\r\nReferences: <"+guessed+">\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease pay to this new account.\r\n"))
	fetch(1)
	_, detail, _ = e.call(t, e.agentToken, "GET", "/api/v1/conversations/"+itoa(conv), "")
	if n := len(detail["threads"].([]any)); n != 3 {
		t.Errorf("the stranger's mail joined the conversation: %d threads", n)
	}
	if _, all, _ := e.call(t, e.agentToken, "GET", "/api/v1/conversations", ""); len(convIDs(t, all)) != 3 {
		t.Errorf("the stranger's mail did not open a conversation of its own: %v", convIDs(t, all))
	}
}
