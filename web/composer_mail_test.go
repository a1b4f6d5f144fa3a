package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/notifier"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// upload is a file of a multipart form post.
type upload struct {
	name, contentType string
	data              []byte
}

// submitMultipart posts the conversation form as a browser does
// (multipart/form-data) with the session's CSRF token and the files.
func (c *client) submitMultipart(path string, fields map[string]string, files []upload) (*http.Response, string) {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fields["_csrf"] = c.csrf
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="attachments"; filename=%q`, f.name))
		h.Set("Content-Type", f.contentType)
		pw, _ := mw.CreatePart(h)
		pw.Write(f.data)
	}
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, c.base+path, &body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// sendOutbox runs a notifier against a fresh SMTP sink until a mail to
// each of the addresses has arrived, and returns those mails by address.
func sendOutbox(t *testing.T, w *workspace, addrs ...string) map[string]testserver.SMTPMessage {
	t.Helper()
	sink := testserver.StartSMTP(t)
	n := notifier.New(w.store, notifier.Config{SMTPURL: sink.URL(), PollEvery: 20 * time.Millisecond, RetryBase: time.Hour, MaxAttempts: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	got := map[string]testserver.SMTPMessage{}
	for want := 1; len(got) < len(addrs); want++ {
		for _, m := range sink.WaitMessages(t, want, 20*time.Second) {
			for _, a := range addrs {
				if slices.Contains(m.To, a) {
					got[a] = m
				}
			}
		}
	}
	return got
}

// mailParts reads a sent mail: its header, its text and HTML parts, and
// its attachments by file name.
type mailParts struct {
	header      mail.Header
	text, html  string
	attachments map[string][]byte
	types       map[string]string
}

func readMail(t *testing.T, data []byte) mailParts {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read mail: %v\n%s", err, data)
	}
	p := mailParts{header: r.Header, attachments: map[string][]byte{}, types: map[string]string{}}
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		b, _ := io.ReadAll(part.Body)
		switch h := part.Header.(type) {
		case *mail.InlineHeader:
			ct, _, _ := h.ContentType()
			if ct == "text/html" {
				p.html = string(b)
			} else {
				p.text = string(b)
			}
		case *mail.AttachmentHeader:
			name, _ := h.Filename()
			ct, _, _ := h.ContentType()
			p.attachments[name], p.types[name] = b, ct
		}
	}
	return p
}

// allBytes is a file with every byte value, twice.
func allBytes() []byte {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// TestComposerSendsRealMail: a reply written on the page with Cc, Bcc and
// two files arrives at the SMTP server as the customer's reply: the
// files' bytes intact, Cc in the header and the envelope, Bcc in the
// envelope only, a text part with what the agent wrote and an HTML part
// rendered from its Markdown without the agent's raw HTML, and the
// threading headers. "Reply all" starts with the customer's Cc; the page
// shows the reply's copies and files.
func TestComposerSendsRealMail(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		conv := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{
			From: helpdesk.Address{Name: "Alice", Email: "alice@customer.example"}, Subject: "Broken toaster",
			Cc:   []helpdesk.Address{{Email: "carol@partner.example"}, {Email: "support1@example.com"}},
			Text: "It toasts nothing.", MessageID: "toaster-1@customer.example",
		}).ConversationID
		agent := w.session(t, w.agent)
		path := "/conversations/" + itoa(conv)
		_, page := agent.get(path)
		if !strings.Contains(page, `name="cc" form="conversation-form" value="carol@partner.example"`) {
			t.Fatalf("reply all does not start with the customer's Cc (without the mailbox):\n%s", page)
		}
		pdf := allBytes()
		resp, page := agent.submitMultipart(path+"/replies", map[string]string{
			"body": "Hello **Alice**,\n\nplease <script>alert(1)</script> try <b>this</b>.\nThanks",
			"cc":   "carol@partner.example, Dan <dan@partner.example>", "bcc": "boss@example.org", "then": "pending",
		}, []upload{{"manual.pdf", "application/pdf", pdf}, {"notes.txt", "text/plain", []byte("line one\r\nline two\n")}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("send: %d\n%s", resp.StatusCode, page)
		}

		got := sendOutbox(t, w, "alice@customer.example")["alice@customer.example"]
		slices.Sort(got.To)
		if want := []string{"alice@customer.example", "boss@example.org", "carol@partner.example", "dan@partner.example"}; !slices.Equal(got.To, want) {
			t.Errorf("envelope recipients %v, want %v", got.To, want)
		}
		if bytes.Contains(got.Data, []byte("boss@example.org")) {
			t.Errorf("the Bcc address is in the mail itself:\n%s", got.Data)
		}
		m := readMail(t, got.Data)
		cc, _ := m.header.AddressList("Cc")
		if len(cc) != 2 || cc[0].Address != "carol@partner.example" || cc[1].Address != "dan@partner.example" {
			t.Errorf("Cc header %v", cc)
		}
		if m.header.Get("In-Reply-To") != "<toaster-1@customer.example>" || !strings.Contains(m.header.Get("References"), "<toaster-1@customer.example>") {
			t.Errorf("threading headers: In-Reply-To %q, References %q", m.header.Get("In-Reply-To"), m.header.Get("References"))
		}
		if ct, _, _ := m.header.ContentType(); ct != "multipart/mixed" {
			t.Errorf("content type %s, want multipart/mixed", ct)
		}
		if !strings.Contains(m.text, "Hello **Alice**,") || !strings.Contains(m.text, "<b>this</b>") {
			t.Errorf("the text part is not what the agent wrote: %q", m.text)
		}
		if !strings.Contains(m.html, "<strong>Alice</strong>") || strings.Contains(m.html, "<script") || strings.Contains(m.html, "<b>") {
			t.Errorf("the HTML part is not the Markdown rendered without raw HTML: %q", m.html)
		}
		if !bytes.Equal(m.attachments["manual.pdf"], pdf) || m.types["manual.pdf"] != "application/pdf" ||
			string(m.attachments["notes.txt"]) != "line one\r\nline two\n" || len(m.attachments) != 2 {
			t.Errorf("attachments arrived changed: %q", m.attachments)
		}

		d, err := w.store.Conversation(context.Background(), helpdesk.ViewerOf(w.agent), conv)
		if err != nil {
			t.Fatal(err)
		}
		reply := d.Threads[len(d.Threads)-1]
		if reply.Kind != "reply" || reply.Cc != "carol@partner.example, dan@partner.example" || reply.Bcc != "boss@example.org" || len(reply.Attachments) != 2 {
			t.Fatalf("the stored reply: %+v", reply)
		}
		_, page = agent.get(path)
		thread := page[strings.Index(page, `id="thread-`+itoa(reply.ID)+`"`):]
		for _, want := range []string{`data-field="cc">carol@partner.example, dan@partner.example<`, `data-field="bcc">boss@example.org<`,
			"<strong>Alice</strong>", // shown as the customer sees it
			`data-attachment="` + itoa(reply.Attachments[0].ID) + `">manual.pdf<`} {
			if !strings.Contains(thread, want) {
				t.Errorf("the reply on the page lacks %s", want)
			}
		}
		if _, body := agent.get("/attachments/" + itoa(reply.Attachments[0].ID)); body != string(pdf) {
			t.Errorf("the stored file downloads changed")
		}
	})
}

// TestResendSendsTheSameFiles: when the notifier died after the server
// took a reply with a file and before it recorded that (the row is still
// pending), the resend is the same message, byte for byte, the file
// included. A row whose file is gone meanwhile fails instead of going out
// without it.
func TestResendSendsTheSameFiles(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		ctx := context.Background()
		if _, err := w.store.AddReply(ctx, helpdesk.ViewerOf(w.agent), w.c2, helpdesk.NewReply{Body: "See *attached*.",
			Attachments: []helpdesk.NewAttachment{{Filename: "a.bin", ContentType: "application/octet-stream", Data: allBytes()}}}); err != nil {
			t.Fatal(err)
		}
		sink := testserver.StartSMTP(t)
		toBob := func() (mails []testserver.SMTPMessage) {
			for _, m := range sink.Messages() {
				if slices.Contains(m.To, "bob@customer.example") {
					mails = append(mails, m)
				}
			}
			return mails
		}
		drain := func(want int) {
			t.Helper()
			n := notifier.New(w.store, notifier.Config{SMTPURL: sink.URL(), PollEvery: 20 * time.Millisecond, RetryBase: time.Hour, MaxAttempts: 1,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err := n.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer n.Stop()
			for i := 1; len(toBob()) < want; i++ {
				sink.WaitMessages(t, i, 20*time.Second)
			}
		}
		raw := teststore.RawDB(t, w.dbURL)
		unrecorded := func() {
			t.Helper()
			if _, err := raw.Exec("UPDATE outbox SET status = 'pending', sent_at = NULL WHERE kind = 'reply'"); err != nil {
				t.Fatal(err)
			}
		}
		drain(1)
		unrecorded()
		drain(2)
		mails := toBob()
		if len(mails) != 2 || !bytes.Equal(mails[0].Data, mails[1].Data) {
			t.Fatalf("the resend differs from the first send (%d mails)", len(mails))
		}
		if got := readMail(t, mails[1].Data).attachments["a.bin"]; !bytes.Equal(got, allBytes()) {
			t.Errorf("the resent file arrived changed")
		}

		unrecorded()
		if _, err := raw.Exec("DELETE FROM attachments WHERE filename = 'a.bin'"); err != nil {
			t.Fatal(err)
		}
		n := notifier.New(w.store, notifier.Config{SMTPURL: sink.URL(), PollEvery: 20 * time.Millisecond, RetryBase: time.Hour, MaxAttempts: 1,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer n.Stop()
		for deadline := time.Now().Add(20 * time.Second); ; {
			if time.Now().After(deadline) {
				t.Fatal("the reply whose file is gone did not fail within 20s")
			}
			rows, err := w.store.OutboxByKind(ctx, "reply", 10)
			if err != nil {
				t.Fatal(err)
			}
			if rows[0].Status == "failed" {
				if !strings.Contains(rows[0].LastError, "attachments of this mail are gone") {
					t.Errorf("failed with %q", rows[0].LastError)
				}
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(toBob()) != 2 {
			t.Errorf("a reply whose file is gone was sent")
		}
	})
}

// TestComposerRefusesInPlace: a file over the limit, a bad Cc and a bad
// Bcc are refused together on the page, with what was typed kept, and
// nothing is sent or stored.
func TestComposerRefusesInPlace(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := &workspace{env: setup(t, dialect, func(c *Config) { c.Attachments = helpdesk.AttachmentLimits{PerFile: 1 << 10, PerReply: 2 << 10} })}
		w.mb1 = w.mailbox(t, 1)
		if err := w.store.SetUserMailboxes(context.Background(), w.agent.ID, []int64{w.mb1}); err != nil {
			t.Fatal(err)
		}
		conv := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "alice@customer.example"}, Subject: "Hi", Text: "Hello"}).ConversationID
		agent := w.session(t, w.agent)
		path := "/conversations/" + itoa(conv)
		resp, page := agent.submitMultipart(path+"/replies", map[string]string{
			"body": "My carefully typed answer", "cc": "not an address", "bcc": "x@", "note": "a note in progress", "then": "pending",
		}, []upload{{"big.bin", "application/octet-stream", bytes.Repeat([]byte("x"), 1500)}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("oversized upload: %d", resp.StatusCode)
		}
		for _, want := range []string{">My carefully typed answer</textarea>", ">a note in progress</textarea>",
			`value="not an address"`, `value="x@"`, "big.bin is 1.5 KiB: each file may be at most 1.0 KiB", `data-error="cc"`, `data-error="bcc"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the refused page lacks %q", want)
			}
		}
		// Together over the reply's limit, each file within its own.
		_, page = agent.submitMultipart(path+"/replies", map[string]string{"body": "Two files"},
			[]upload{{"a.bin", "", bytes.Repeat([]byte("a"), 1000)}, {"b.bin", "", bytes.Repeat([]byte("b"), 1000)}, {"c.bin", "", bytes.Repeat([]byte("c"), 1000)}})
		if !strings.Contains(page, "a reply may carry at most 2.0 KiB") || !strings.Contains(page, ">Two files</textarea>") {
			t.Errorf("files over the reply's limit together were not refused in place")
		}
		// Far over every limit: refused before it is read.
		resp, _ = agent.submitMultipart(path+"/replies", map[string]string{"body": "huge"}, []upload{{"huge.bin", "", make([]byte, 2<<20)}})
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("a request far over the limits: %d", resp.StatusCode)
		}
		if rows, err := w.store.OutboxByKind(context.Background(), "reply", 10); err != nil || len(rows) != 0 {
			t.Errorf("a refused reply was queued: %v %v", rows, err)
		}
	})
}

// TestAPIReplyCopiesAndFiles: the API takes cc, bcc and base64 files; the
// mail carries them; bad input is 422 naming each field.
func TestAPIReplyCopiesAndFiles(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		url := "/api/v1/conversations/" + itoa(w.c2) + "/replies"
		for body, field := range map[string]string{
			`{"body": "x", "cc": ["nope"]}`:                                              "cc",
			`{"body": "x", "bcc": ["a@b.example", "Eve <e@x.example>"]}`:                 "bcc",
			`{"body": "x", "attachments": [{"filename": "a", "content_base64": "!!"}]}`:  "attachments[0].content_base64",
			`{"body": "x", "attachments": [{"filename": "", "content_base64": "AA=="}]}`: "attachments[0].filename",
			`{"body": "x", "cc": "a@b.example"}`:                                         "cc",
		} {
			code, out, _ := w.call(t, w.agentToken, "POST", url, body)
			fields, _ := out["fields"].(map[string]any)
			if code != http.StatusUnprocessableEntity || fields[field] == nil {
				t.Errorf("%s: %d %v, want 422 naming %s", body, code, out, field)
			}
		}
		if code, out, _ := w.call(t, w.agentToken, "POST", "/api/v1/conversations/"+itoa(w.c2)+"/notes", `{"body": "x", "cc": ["a@b.example"]}`); code != 422 {
			t.Errorf("a note with cc: %d %v", code, out)
		}
		file := allBytes()
		code, out, _ := w.call(t, w.agentToken, "POST", url, fmt.Sprintf(`{"body": "Invoice attached.", "cc": ["acct@customer.example"],
			"bcc": ["audit@example.org"], "attachments": [{"filename": "invoice.pdf", "content_type": "application/pdf", "content_base64": %q}]}`,
			base64.StdEncoding.EncodeToString(file)))
		if code != http.StatusCreated {
			t.Fatalf("reply: %d %v", code, out)
		}
		got := sendOutbox(t, w, "bob@customer.example")["bob@customer.example"]
		slices.Sort(got.To)
		if !slices.Equal(got.To, []string{"acct@customer.example", "audit@example.org", "bob@customer.example"}) || bytes.Contains(got.Data, []byte("audit@")) {
			t.Errorf("recipients %v; bcc in the mail: %v", got.To, bytes.Contains(got.Data, []byte("audit@")))
		}
		m := readMail(t, got.Data)
		if cc := m.header.Get("Cc"); cc != "<acct@customer.example>" && cc != "acct@customer.example" {
			t.Errorf("Cc header %q", cc)
		}
		if !bytes.Equal(m.attachments["invoice.pdf"], file) || !strings.Contains(m.html, "Invoice attached.") {
			t.Errorf("the mail: attachments %d, html %q", len(m.attachments), m.html)
		}
	})
}

// TestForwardConversation: forwarding sends the conversation's mail (not
// its notes) with its files to the outside address, without threading
// headers or the [#N] token, and records a note; that address's answer
// starts a conversation of its own.
func TestForwardConversation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		ctx := context.Background()
		if _, err := w.store.AddNote(ctx, helpdesk.ViewerOf(w.agent), w.c1, "internal: customer is grumpy", 0); err != nil {
			t.Fatal(err)
		}
		agent := w.session(t, w.agent)
		path := "/conversations/" + itoa(w.c1)
		if resp, _ := agent.submitMultipart(path+"/forward", map[string]string{"forward_to": "not-an-address"}, nil); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("forward to a bad address: %d", resp.StatusCode)
		}
		resp, page := agent.submitMultipart(path+"/forward", map[string]string{"forward_to": "vendor@outside.example", "forward_note": "Can you help with this printer?"}, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("forward: %d\n%s", resp.StatusCode, page)
		}
		got := sendOutbox(t, w, "vendor@outside.example")["vendor@outside.example"]
		m := readMail(t, got.Data)
		if len(got.To) != 1 || m.header.Get("In-Reply-To") != "" || m.header.Get("References") != "" {
			t.Errorf("forward recipients %v, In-Reply-To %q, References %q", got.To, m.header.Get("In-Reply-To"), m.header.Get("References"))
		}
		if subj, _ := m.header.Subject(); subj != "Fwd: Printer on fire" {
			t.Errorf("forward subject %q", subj)
		}
		if !strings.Contains(m.text, "Can you help with this printer?") || !strings.Contains(m.text, "It burns.") || strings.Contains(m.text, "grumpy") {
			t.Errorf("forward text: %q", m.text)
		}
		if string(m.attachments["notes.html"]) != "<script>window.__pwned=1</script>" || string(m.attachments["photo.png"]) != "\x89PNG fake" {
			t.Errorf("forward attachments: %q", m.attachments)
		}
		d, err := w.store.Conversation(ctx, helpdesk.ViewerOf(w.agent), w.c1)
		if err != nil {
			t.Fatal(err)
		}
		last := d.Threads[len(d.Threads)-1]
		if last.Kind != "note" || !strings.Contains(last.BodyText, "Forwarded this conversation to vendor@outside.example.") {
			t.Errorf("the forward is not recorded: %+v", last)
		}
		// The vendor answers the forward.
		res := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "vendor@outside.example"},
			Subject: "Re: Fwd: Printer on fire", Text: "Sure.", InReplyTo: strings.Trim(got.MessageID, "<>"),
			References: []string{strings.Trim(got.MessageID, "<>")}})
		if res.ConversationID == w.c1 {
			t.Errorf("the forwarded recipient's answer threaded into the conversation as the customer")
		}
	})
}
