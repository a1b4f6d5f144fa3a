package helpdesk

import (
	"errors"
	"strings"
	"testing"
)

// TestRenderMarkdownLeavesOutAgentHTML: what an agent writes becomes
// formatting, never markup or script of their own.
func TestRenderMarkdownLeavesOutAgentHTML(t *testing.T) {
	html, err := RenderMarkdown("Hi **you**,\nsee [this](javascript:alert(1)) and https://shop.example/x\n\n<script>alert(2)</script>\n<img src=x onerror=alert(3)> <b>bold</b>")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<strong>you</strong>,<br>", `<a href="https://shop.example/x">`} {
		if !strings.Contains(html, want) {
			t.Errorf("rendered HTML lacks %s:\n%s", want, html)
		}
	}
	for _, bad := range []string{"<script", "<img", "<b>", "javascript:", "onerror"} {
		if strings.Contains(html, bad) {
			t.Errorf("rendered HTML has %s:\n%s", bad, html)
		}
	}
}

func TestAttachmentFilenameAndType(t *testing.T) {
	for in, want := range map[string]string{
		"../../etc/passwd": "passwd", `C:\Users\ann\report.pdf`: "report.pdf", "bad\r\nBcc: x\x00.txt": "badBcc: x.txt",
		"": "attachment", "..": "attachment", strings.Repeat("é", 150): strings.Repeat("é", 100),
	} {
		if got := AttachmentFilename(in); got != want {
			t.Errorf("AttachmentFilename(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"application/pdf": "application/pdf", "text/plain; charset=utf-8": "text/plain", "nonsense": "application/octet-stream", "": "application/octet-stream"} {
		if got := AttachmentType(in); got != want {
			t.Errorf("AttachmentType(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReplyAllCc: reply all copies the others on the newest customer
// message, never the customer nor any of the helpdesk's own addresses
// (the conversation's mailbox or another one).
func TestReplyAllCc(t *testing.T) {
	d := &ConversationDetail{MailboxEmail: "support@example.com", Threads: []Thread{
		{Kind: "customer", FromEmail: "ann@x.example", To: "support@example.com", Cc: "old@x.example"},
		{Kind: "reply", FromEmail: "support@example.com", To: "ann@x.example", Cc: "agent-cc@x.example"},
		{Kind: "customer", FromEmail: "ann@x.example", To: "Support@example.com, bob@x.example, Sales@Example.com",
			Cc: "carol@x.example, bob@x.example, ann@x.example, billing-imap@example.com"},
	}}
	d.CustomerEmail = "ann@x.example"
	own := []string{"support@example.com", "sales@example.com", "billing-imap@example.com"}
	if got := strings.Join(ReplyAllCc(d, own), ", "); got != "bob@x.example, carol@x.example" {
		t.Errorf("reply all copies %q", got)
	}
}

func TestRefuseOwnAddresses(t *testing.T) {
	own := []string{"support@example.com", "sales@example.com"}
	if err := RefuseOwnAddresses("cc", []string{"bob@x.example"}, own); err != nil {
		t.Errorf("an outside address refused: %v", err)
	}
	err := RefuseOwnAddresses("bcc", []string{"bob@x.example", "Sales@Example.com"}, own)
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Fields["bcc"], "Sales@Example.com is one of this helpdesk's own mailboxes") {
		t.Errorf("our own address in Bcc: %v", err)
	}
}

func TestRecipientsOnceEach(t *testing.T) {
	m := OutboundMail{To: []string{"ann@x.example"}, Cc: []string{"Ann@x.example", "bob@x.example"}, Bcc: []string{"bob@x.example", "eve@x.example"}}
	if got := strings.Join(m.Recipients(), " "); got != "ann@x.example bob@x.example eve@x.example" {
		t.Errorf("envelope recipients %q", got)
	}
}
