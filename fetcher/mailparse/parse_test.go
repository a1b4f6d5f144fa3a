package mailparse

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/helpdesk/helpdesk/helpdesk"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "eml", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func parseFixture(t *testing.T, name string) *helpdesk.IncomingMessage {
	t.Helper()
	m, err := Parse(readFixture(t, name))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	checkInvariants(t, m)
	return m
}

// checkInvariants holds for every message Parse returns; the fuzz
// target checks it too.
func checkInvariants(t testing.TB, m *helpdesk.IncomingMessage) {
	t.Helper()
	oneLine := func(what, s string) {
		if !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n\x00") {
			t.Errorf("%s %q: must be one line of valid UTF-8", what, s)
		}
	}
	oneLine("Subject", m.Subject)
	oneLine("MessageID", m.MessageID)
	oneLine("InReplyTo", m.InReplyTo)
	oneLine("AutoSubmitted", m.AutoSubmitted)
	oneLine("Loop", m.Loop)
	if m.AutoSubmitted != strings.ToLower(m.AutoSubmitted) || m.Loop != strings.ToLower(m.Loop) {
		t.Errorf("AutoSubmitted %q or Loop %q is not lower-case", m.AutoSubmitted, m.Loop)
	}
	for _, r := range m.References {
		oneLine("Reference", r)
	}
	for _, a := range slices.Concat([]helpdesk.Address{m.From}, m.ReplyTo, m.To, m.Cc) {
		oneLine("address name", a.Name)
		oneLine("address email", a.Email)
		if a.Email != strings.ToLower(a.Email) {
			t.Errorf("email %q is not lower-case", a.Email)
		}
	}
	for what, s := range map[string]string{"Text": m.Text, "HTML": m.HTML} {
		if !utf8.ValidString(s) || strings.Contains(s, "\x00") {
			t.Errorf("%s is not valid UTF-8 without NUL: %q", what, s)
		}
	}
	for _, a := range m.Attachments {
		if a.Filename == "" || strings.ContainsAny(a.Filename, "/\\\x00") || strings.HasPrefix(a.Filename, ".") ||
			!utf8.ValidString(a.Filename) || len(a.Filename) > maxFilenameBytes {
			t.Errorf("unsafe filename %q", a.Filename)
		}
		for _, r := range a.Filename {
			if r < ' ' || r == 0x7f {
				t.Errorf("control character in filename %q", a.Filename)
			}
		}
		if a.ContentType != strings.ToLower(a.ContentType) || !validMediaType(a.ContentType) {
			t.Errorf("content type %q is not a lower-case media type", a.ContentType)
		}
		oneLine("ContentID", a.ContentID)
	}
	if m.DedupKey == "" {
		t.Error("empty DedupKey")
	}
	if m.AutoReply != (m.AutoReason != "") {
		t.Errorf("AutoReply %v with reason %q", m.AutoReply, m.AutoReason)
	}
}

func TestParseCharsets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, text string
	}{
		{"charset-iso-8859-1.eml", "Grüße aus Köln, café crème"},
		{"charset-iso-8859-2.eml", "Zażółć gęślą jaźń"},
		{"charset-iso-8859-15.eml", "Prix : 10 € pour l'œuvre"},
		{"charset-windows-1250.eml", "Příliš žluťoučký kůň"},
		{"charset-windows-1251.eml", "Привет, мир! Заказ не пришёл"},
		{"charset-windows-1252.eml", "“Smart quotes” – and 20 €"},
		{"charset-koi8-r.eml", "Здравствуйте, помогите пожалуйста"},
		{"charset-gbk.eml", "你好，我的订单还没有到"},
		{"charset-gb2312.eml", "请帮我查一下发票"},
		{"charset-big5.eml", "繁體中文測試，請回覆"},
		{"charset-shift_jis.eml", "こんにちは、注文について"},
		{"charset-utf-8.eml", "Hello 👋 naïve résumé — ünïcödé ✓"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := parseFixture(t, tt.file)
			if want := "Betreff: " + tt.text; m.Subject != want {
				t.Errorf("Subject = %q, want %q", m.Subject, want)
			}
			if want := tt.text + "\n"; m.Text != want {
				t.Errorf("Text = %q, want %q", m.Text, want)
			}
		})
	}
}

func TestParseISO2022JP(t *testing.T) {
	t.Parallel()
	m := parseFixture(t, "charset-iso-2022-jp.eml")
	if m.Subject != "お問い合わせの件について" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if want := (helpdesk.Address{Name: "山田太郎", Email: "taro.yamada@example.jp"}); m.From != want {
		t.Errorf("From = %+v, want %+v", m.From, want)
	}
	if want := "いつもお世話になっております。\n請求書を送ってください。\n"; m.Text != want {
		t.Errorf("Text = %q, want %q", m.Text, want)
	}
	if want := time.Date(2025, 3, 5, 0, 0, 0, 0, time.UTC); !m.Date.Equal(want) {
		t.Errorf("Date = %v, want %v", m.Date, want)
	}
}

// An unknown charset must not lose the mail: its bytes are kept as UTF-8
// with invalid sequences replaced, and known words beside it still decode.
func TestParseUnknownCharset(t *testing.T) {
	t.Parallel()
	m := parseFixture(t, "charset-unknown.eml")
	if want := "tlhIngan Hol and café"; m.Subject != want {
		t.Errorf("Subject = %q, want %q", m.Subject, want)
	}
	if want := "Qapla\uFFFD batlh! café\n"; m.Text != want {
		t.Errorf("Text = %q, want %q", m.Text, want)
	}
}

type wantAttachment struct {
	name, contentType, contentID string
	inline                       bool
	size                         int
}

func attachmentsOf(m *helpdesk.IncomingMessage) []wantAttachment {
	var got []wantAttachment
	for _, a := range m.Attachments {
		got = append(got, wantAttachment{a.Filename, a.ContentType, a.ContentID, a.Inline, len(a.Data)})
	}
	return got
}

func assertAttachments(t *testing.T, m *helpdesk.IncomingMessage, want []wantAttachment) {
	t.Helper()
	if got := attachmentsOf(m); !slices.Equal(got, want) {
		t.Errorf("attachments:\n got  %+v\n want %+v", got, want)
	}
}

func TestParseNestedMultipart(t *testing.T) {
	t.Parallel()
	m := parseFixture(t, "nested-related-cid.eml")
	if want := "Hallo Support,\n\nanbei die Rechnung und ein Screenshot. Grüße"; m.Text != want {
		t.Errorf("Text = %q, want %q", m.Text, want)
	}
	if !strings.Contains(m.HTML, `<img src="cid:logo.123@example.com">`) || !strings.HasPrefix(m.HTML, "<html>") {
		t.Errorf("HTML = %q", m.HTML)
	}
	assertAttachments(t, m, []wantAttachment{
		{"screenshot.png", "image/png", "logo.123@example.com", true, 59},
		{"Rechnung März 2025.pdf", "application/pdf", "", false, 51},
		{"Отчёт.docx", "application/octet-stream", "", false, 256},
		{"Notizä.txt", "text/plain", "", false, 16},
	})
	if len(m.Attachments) == 4 {
		if !bytes.HasPrefix(m.Attachments[0].Data, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("PNG data = %q", m.Attachments[0].Data)
		}
		for i, b := range m.Attachments[2].Data {
			if int(b) != i {
				t.Fatalf("docx byte %d = %d", i, b)
			}
		}
	}
}

func TestParseHTMLOnly(t *testing.T) {
	t.Parallel()
	m := parseFixture(t, "html-only.eml")
	want := "Order #42\n\nDear team,\nmy order has not arrived & I'm worried.\n\n- Item one\n- Item two\n\nThanks € <3"
	if m.Text != want {
		t.Errorf("Text = %q, want %q", m.Text, want)
	}
	if !strings.Contains(m.HTML, "<script>alert('x')</script>") {
		t.Errorf("HTML must be stored unchanged, got %q", m.HTML)
	}
}

// The parser stores hostile HTML as sent; sanitising happens on display.
func TestParseHostileHTML(t *testing.T) {
	t.Parallel()
	m := parseFixture(t, "hostile-html.eml")
	for _, s := range []string{`href="javascript:alert(document.cookie)"`, `onerror="alert(1)"`, `<svg xmlns`, `onload="alert(2)"`, `<iframe`} {
		if !strings.Contains(m.HTML, s) {
			t.Errorf("HTML lost %q", s)
		}
	}
	if m.Text != "Click here. Regards" {
		t.Errorf("Text = %q", m.Text)
	}
	if got := htmlToText(m.HTML); got != "Click here\n\nRegards" {
		t.Errorf("text derived from hostile HTML = %q", got)
	}
}

func TestParseBrokenMIME(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, text, html string
		attachments      []wantAttachment
	}{
		{"broken-bad-boundary.eml", "The body text survives.", "",
			[]wantAttachment{{"data.bin", "application/octet-stream", "", false, 4}}},
		{"broken-missing-boundary-param.eml", "Plain alternative.", "<p>HTML alternative.</p>", nil},
		{"broken-missing-closing-boundary.eml", "Plain part.", "<p>HTML part, then the message just ends.</p>\n", nil},
		// 400 base64 characters cut by 7: the 98 whole quanta survive, the
		// one character left over carries no whole byte.
		{"broken-truncated-base64.eml", "See attachment.", "",
			[]wantAttachment{{"digits.txt", "application/octet-stream", "", false, 294}}},
		// The part whose header is unreadable is kept raw; the part after it survives.
		{"broken-part-header.eml", "First part is fine.", "", []wantAttachment{
			{"part-3.bin", "application/octet-stream", "", false, 89},
			{"after.zip", "application/zip", "", false, 9},
		}},
		// An encoding we cannot undo: the attachment is kept undecoded.
		{"unknown-transfer-encoding.eml", "Attached the old way.", "",
			[]wantAttachment{{"part-3.bin", "application/octet-stream", "", false, 32}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := parseFixture(t, tt.file)
			if m.Text != tt.text {
				t.Errorf("Text = %q, want %q", m.Text, tt.text)
			}
			if m.HTML != tt.html {
				t.Errorf("HTML = %q, want %q", m.HTML, tt.html)
			}
			assertAttachments(t, m, tt.attachments)
		})
	}
}

func TestParseTruncatedBase64KeepsPrefix(t *testing.T) {
	t.Parallel()
	m := parseFixture(t, "broken-truncated-base64.eml")
	want := bytes.Repeat([]byte("0123456789"), 30)[:294]
	if len(m.Attachments) != 1 || !bytes.Equal(m.Attachments[0].Data, want) {
		t.Errorf("attachments = %+v", attachmentsOf(m))
	}
}

func TestParseMaliciousFilenames(t *testing.T) {
	t.Parallel()
	m := parseFixture(t, "malicious-filenames.eml")
	assertAttachments(t, m, []wantAttachment{
		{"passwd", "application/octet-stream", "", false, 11},
		{"a_b.exe", "application/octet-stream", "", false, 2},
		{"evil.dll", "application/octet-stream", "", false, 3},
		{"htaccess", "application/octet-stream", "", false, 14},
		{"invoice_fdp.exe", "application/octet-stream", "", false, 3},
		{strings.Repeat("A", maxFilenameBytes-4) + ".pdf", "application/octet-stream", "", false, 4},
		{"attachment", "application/octet-stream", "", false, 4},
	})
}

func TestSanitizeFilename(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, mediaType, want string }{
		{"report.pdf", "application/pdf", "report.pdf"},
		{"", "application/pdf", "attachment.pdf"},
		{"", "application/x-unknown", "attachment.bin"},
		{"   ", "image/png", "attachment.png"},
		{"../../etc/passwd", "", "passwd"},
		{`C:\Users\bob\evil.exe`, "", "evil.exe"},
		{"a\x00b.exe", "", "a_b.exe"},
		{"tab\there.txt", "", "tab_here.txt"},
		{"...hidden", "", "hidden"},
		{"trailing. . .", "", "trailing"},
		{"dir/", "", "attachment"},
		{"..", "", "attachment"},
		{"bad\xffutf8.txt", "", "bad_utf8.txt"},
		{"x\u202etxt.exe", "", "x_txt.exe"},
		{strings.Repeat("é", 150) + ".jpeg", "", strings.Repeat("é", 97) + ".jpeg"},
	}
	for _, tt := range tests {
		if got := sanitizeFilename(tt.in, tt.mediaType); got != tt.want {
			t.Errorf("sanitizeFilename(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseHeaderInjection(t *testing.T) {
	t.Parallel()
	m := parseFixture(t, "header-injection.eml")
	if want := "Hello Bcc: victim@example.com X-Evil: yes tail line"; m.Subject != want {
		t.Errorf("Subject = %q, want %q", m.Subject, want)
	}
	if want := (helpdesk.Address{Name: "Eve Bcc: victim@example.com", Email: "eve@example.com"}); m.From != want {
		t.Errorf("From = %+v, want %+v", m.From, want)
	}
	if len(m.To) != 1 || m.To[0].Name != "Support X-Injected: 1" {
		t.Errorf("To = %+v", m.To)
	}
}

func TestParseAddresses(t *testing.T) {
	t.Parallel()
	t.Run("broken headers", func(t *testing.T) {
		m := parseFixture(t, "broken-addresses.eml")
		if want := (helpdesk.Address{Name: "Broken, Name", Email: "broken.sender@example.com"}); m.From != want {
			t.Errorf("From = %+v, want %+v", m.From, want)
		}
		if want := []helpdesk.Address{{Name: "Reply Desk", Email: "reply-here@example.com"}}; !slices.Equal(m.ReplyTo, want) {
			t.Errorf("ReplyTo = %+v, want %+v", m.ReplyTo, want)
		}
		if want := []helpdesk.Address{{Email: "support@helpdesk.test"}, {Name: "Bob", Email: "bob@example.com"}}; !slices.Equal(m.To, want) {
			t.Errorf("To = %+v, want %+v", m.To, want)
		}
		if len(m.Cc) != 0 {
			t.Errorf("Cc = %+v, want none", m.Cc)
		}
		if !m.Date.IsZero() {
			t.Errorf("Date = %v, want zero for a bad date", m.Date)
		}
		if m.MessageID != "broken-id-without-brackets@example.com" {
			t.Errorf("MessageID = %q", m.MessageID)
		}
	})
	t.Run("encoded names", func(t *testing.T) {
		m := parseFixture(t, "reply-references.eml")
		if want := (helpdesk.Address{Name: "André Dupont", Email: "andre@example.fr"}); m.From != want {
			t.Errorf("From = %+v, want %+v", m.From, want)
		}
		want := []helpdesk.Address{{Name: "Alice", Email: "alice@example.com"}, {Name: "张三", Email: "zhang@example.cn"}}
		if !slices.Equal(m.Cc, want) {
			t.Errorf("Cc = %+v, want %+v", m.Cc, want)
		}
		if want := []helpdesk.Address{{Name: "Andre Desk", Email: "desk@example.fr"}}; !slices.Equal(m.ReplyTo, want) {
			t.Errorf("ReplyTo = %+v, want %+v", m.ReplyTo, want)
		}
	})
	t.Run("no From", func(t *testing.T) {
		m, err := Parse([]byte("To: support@helpdesk.test\r\nSubject: who am I\r\n\r\nhi\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if m.From != (helpdesk.Address{}) || m.Subject != "who am I" {
			t.Errorf("From = %+v, Subject = %q", m.From, m.Subject)
		}
	})
}

func TestParseThreading(t *testing.T) {
	t.Parallel()
	m := parseFixture(t, "reply-references.eml")
	if m.MessageID != "reply-3@example.fr" || m.InReplyTo != "reply-2@helpdesk.test" {
		t.Errorf("MessageID = %q, InReplyTo = %q", m.MessageID, m.InReplyTo)
	}
	if want := []string{"root-1@example.fr", "reply-1@helpdesk.test", "reply-2@helpdesk.test"}; !slices.Equal(m.References, want) {
		t.Errorf("References = %q, want %q", m.References, want)
	}
	if want := time.Date(2025, 3, 6, 19, 2, 3, 0, time.UTC); !m.Date.Equal(want) {
		t.Errorf("Date = %v, want %v", m.Date, want)
	}
	if m.Subject != "Re: Re: [#42] Order question" {
		t.Errorf("Subject = %q", m.Subject)
	}
}

func TestParseLongReferences(t *testing.T) {
	t.Parallel()
	var refs []string
	for i := range 250 {
		refs = append(refs, fmt.Sprintf("<r%d@example.com>", i))
	}
	raw := "From: a@example.com\r\nMessage-ID: <m@example.com>\r\nIn-Reply-To: broken@example.com\r\nReferences: " +
		strings.Join(refs, "\r\n ") + "\r\n\r\nbody\r\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.References) != maxReferences || m.References[0] != "r0@example.com" ||
		m.References[1] != "r151@example.com" || m.References[maxReferences-1] != "r249@example.com" {
		t.Errorf("References = %q", m.References)
	}
	if m.InReplyTo != "broken@example.com" {
		t.Errorf("InReplyTo = %q", m.InReplyTo)
	}
}

func TestParseAutoReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		auto   bool
		reason string
	}{
		{"auto-submitted.eml", true, "auto-submitted: auto-replied"},
		{"auto-submitted-no.eml", false, ""},
		{"loop-header.eml", false, ""},
		{"auto-precedence-bulk.eml", true, "precedence: bulk"},
		{"auto-precedence-junk.eml", true, "precedence: junk"},
		{"auto-precedence-list.eml", true, "list"},
		{"newsletter-list-id.eml", false, ""},
		{"auto-x-autoreply.eml", true, "x-autoreply"},
		{"auto-x-autorespond.eml", true, "x-autorespond"},
		{"auto-x-auto-response-suppress.eml", true, "x-auto-response-suppress: oof"},
		{"dsn-bounce.eml", true, "report: delivery-status"},
		{"mdn-read-receipt.eml", true, "report: disposition-notification"},
		{"mailer-daemon.eml", true, "bounce: mailer-daemon"},
		{"postmaster-human.eml", false, ""},
		{"charset-utf-8.eml", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := parseFixture(t, tt.file)
			if m.AutoReply != tt.auto || m.AutoReason != tt.reason {
				t.Errorf("AutoReply = %v %q, want %v %q", m.AutoReply, m.AutoReason, tt.auto, tt.reason)
			}
		})
	}
}

// The fields later stages decide on without reading the header again.
func TestParseLoopFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, autoSubmitted, loop string
	}{
		{"auto-submitted.eml", "auto-replied", ""},
		{"auto-submitted-no.eml", "no", ""},
		{"loop-header.eml", "", "support@helpdesk.test"},
		{"charset-utf-8.eml", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := parseFixture(t, tt.file)
			if m.AutoSubmitted != tt.autoSubmitted || m.Loop != tt.loop {
				t.Errorf("AutoSubmitted = %q, Loop = %q; want %q, %q", m.AutoSubmitted, m.Loop, tt.autoSubmitted, tt.loop)
			}
		})
	}
	// A comment, folding, and bytes that are not UTF-8 or are controls.
	raw := "From: a@example.com\r\nAuto-Submitted: Auto-Generated (by a robot)\r\n" +
		"X-Helpdesk-Loop: HELP@alpha.example\xff\x00\r\n \tx\r\n\r\nbody\r\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.AutoSubmitted != "auto-generated" || m.Loop != "help@alpha.example\ufffd x" {
		t.Errorf("AutoSubmitted = %q, Loop = %q", m.AutoSubmitted, m.Loop)
	}
	checkInvariants(t, m)
}

func TestParseDSNKeepsReport(t *testing.T) {
	t.Parallel()
	m := parseFixture(t, "dsn-bounce.eml")
	if !strings.HasPrefix(m.Text, "This is the mail system at host mx.example.com.") {
		t.Errorf("Text = %q", m.Text)
	}
	assertAttachments(t, m, []wantAttachment{
		{"attachment.bin", "message/delivery-status", "", false, 114},
		{"attachment.bin", "text/rfc822-headers", "", false, 55},
	})
}

func TestParseMiscFixtures(t *testing.T) {
	t.Parallel()
	t.Run("forwarded message", func(t *testing.T) {
		m := parseFixture(t, "forwarded-rfc822.eml")
		assertAttachments(t, m, []wantAttachment{{"attachment.eml", "message/rfc822", "", false, 60}})
	})
	t.Run("LF line endings and mbox From line", func(t *testing.T) {
		m := parseFixture(t, "lf-line-endings.eml")
		if m.Subject != "Unix line endings" || m.Text != "Line one\nLine two" || m.HTML != "<p>Line one<br>Line two</p>" {
			t.Errorf("Subject = %q, Text = %q, HTML = %q", m.Subject, m.Text, m.HTML)
		}
	})
	t.Run("header only", func(t *testing.T) {
		m := parseFixture(t, "header-only.eml")
		if m.Subject != "Just a subject" || m.Text != "" || m.MessageID != "header-only@example.com" {
			t.Errorf("Subject = %q, Text = %q, MessageID = %q", m.Subject, m.Text, m.MessageID)
		}
	})
	t.Run("no Message-ID", func(t *testing.T) {
		m := parseFixture(t, "no-message-id.eml")
		if m.MessageID != "" || !strings.HasPrefix(m.DedupKey, "hash:") {
			t.Errorf("MessageID = %q, DedupKey = %q", m.MessageID, m.DedupKey)
		}
	})
}

// rawDedupHeaders reads the dedup header fields and the body with the
// standard library, independently of the parser.
func rawDedupHeaders(t *testing.T, raw []byte) (mid, from, date, subject string, body []byte) {
	t.Helper()
	if bytes.HasPrefix(raw, []byte("From ")) {
		raw = raw[bytes.IndexByte(raw, '\n')+1:]
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Skipf("net/mail cannot read it: %v", err)
	}
	body, err = io.ReadAll(msg.Body)
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	return h.Get("Message-Id"), h.Get("From"), h.Get("Date"), h.Get("Subject"), body
}

// headerOf is the header of raw without an mbox "From " line, as the
// header-only phase fetches it.
func headerOf(raw []byte) []byte {
	if bytes.HasPrefix(raw, []byte("From ")) {
		raw = raw[bytes.IndexByte(raw, '\n')+1:]
	}
	for _, blank := range []string{"\r\n\r\n", "\n\n"} {
		if i := bytes.Index(raw, []byte(blank)); i >= 0 {
			return raw[:i+len(blank)]
		}
	}
	return raw
}

// The key must be the one helpdesk.DedupKey gives for the raw header values
// and the body (read by net/mail, for the fixtures whose header is well
// formed), the same on every parse, and for mail with a Message-ID the same
// as the header-only phase computes before downloading the body
// (HeaderDedupKey).
func TestParseDedupKey(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/eml/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatal("no fixtures", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			raw := readFixture(t, name)
			m := parseFixture(t, name)
			if !strings.HasPrefix(name, "damaged-") { // net/mail is strict: no reference for these
				mid, from, date, subject, body := rawDedupHeaders(t, raw)
				want, _ := helpdesk.DedupKey(mid, from, date, subject, body)
				if m.DedupKey != want {
					t.Errorf("DedupKey = %q, want %q", m.DedupKey, want)
				}
			}
			again, err := Parse(bytes.Clone(raw))
			if err != nil || again.DedupKey != m.DedupKey {
				t.Errorf("second parse: %v, key %q vs %q", err, again.DedupKey, m.DedupKey)
			}
			if m.MessageID != "" {
				if !strings.HasPrefix(m.DedupKey, "mid:") {
					t.Errorf("DedupKey %q of a message with a Message-ID", m.DedupKey)
				}
				if got := HeaderDedupKey(headerOf(raw)); got != m.DedupKey {
					t.Errorf("HeaderDedupKey = %q, want %q", got, m.DedupKey)
				}
			}
			if !bytes.Equal(m.Raw, raw) {
				t.Error("Raw differs from the input")
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := map[string][]byte{
		"empty":             nil,
		"blank":             []byte(" \r\n\r\n\t"),
		"not a header":      []byte("hello world, this is not a mail\r\n\r\nbody"),
		"no separator":      []byte("X-Thing: yes\r\nno blank line and no colon here"),
		"first line folded": []byte(" Subject: x\r\n\r\nbody"),
		"header too big":    []byte("Subject: " + strings.Repeat("x", 2<<20) + "\r\n\r\nbody"),
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := Parse(raw)
			if !errors.Is(err, ErrUnparsable) || m != nil {
				t.Errorf("Parse = %v, %v; want ErrUnparsable", m, err)
			}
		})
	}
}

// Every prefix of every fixture (a connection cut anywhere) parses or
// fails cleanly, and what parses keeps the invariants.
func TestParseTruncated(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/eml/*.eml")
	for _, f := range files {
		raw := readFixture(t, filepath.Base(f))
		for n := 0; n < len(raw); n += 13 {
			if m, err := Parse(raw[:n]); err == nil {
				checkInvariants(t, m)
			}
		}
	}
}

func TestParseInlineWithoutDisposition(t *testing.T) {
	t.Parallel()
	raw := "From: a@example.com\r\nContent-Type: multipart/related; boundary=r\r\n\r\n" +
		"--r\r\nContent-Type: text/html\r\n\r\n<img src=cid:i1>\r\n" +
		"--r\r\nContent-Type: IMAGE/GIF\r\nContent-ID: < i1 >\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lGODlh\r\n--r--\r\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	assertAttachments(t, m, []wantAttachment{{"attachment.gif", "image/gif", "i1", true, 6}})
	if m.Text != "" {
		t.Errorf("Text = %q, want empty (an image only)", m.Text)
	}
}

func TestDecodeQuotedPrintableMatchesStandardLibrary(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"plain text\r\n",
		"Gr=C3=BC=C3=9Fe =\r\naus K=C3=B6ln\r\n",
		"trailing spaces   \r\nnext\r\n",
		"soft break at end=",
		"tab\tinside\nlf only=\nline\n",
		"equals=3D sign\r\n",
	}
	for _, in := range inputs {
		want, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(in)))
		if err != nil {
			t.Fatalf("stdlib on %q: %v", in, err)
		}
		if got := decodeQuotedPrintableLenient([]byte(in)); !bytes.Equal(got, want) {
			t.Errorf("decode(%q) = %q, stdlib %q", in, got, want)
		}
	}
	lenient := map[string]string{
		"bad =ZZ escape": "bad =ZZ escape",
		"esc \x1b$B ok":  "esc \x1b$B ok",
		"lower =c3=a9":   "lower \xc3\xa9",
		"= \r\nx":        "x",
	}
	for in, want := range lenient {
		if got := string(decodeQuotedPrintableLenient([]byte(in))); got != want {
			t.Errorf("decode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, charset, want string }{
		{"plain", "utf-8", "plain"},
		{"a\r\nb\r\n", "utf-8", "a\nb\n"},
		{"lone\rcr\n\rend\r", "", "lone\ncr\n\nend\n"},
		{"nul\x00byte\r\n", "utf-8", "nul\uFFFDbyte\n"},
		{"bad\xff\xfeutf8\r\nok", "utf-8", "bad\uFFFDutf8\nok"},
		{"caf\xe9\r\n", "iso-8859-1", "café\n"},
		{"caf\xe9", "no-such-charset", "caf\uFFFD"},
		{"", "utf-8", ""},
	} {
		if got := decodeText([]byte(c.in), c.charset); got != c.want {
			t.Errorf("decodeText(%q, %q) = %q, want %q", c.in, c.charset, got, c.want)
		}
	}
}

func TestDecodeBase64Lenient(t *testing.T) {
	t.Parallel()
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	enc := base64.StdEncoding.EncodeToString(data)
	var wrapped strings.Builder
	for i := 0; i < len(enc); i += 76 {
		wrapped.WriteString(enc[i:min(i+76, len(enc))] + "\r\n")
	}
	tests := map[string][]byte{
		wrapped.String():            data,
		strings.TrimRight(enc, "="): data,
		"QUJD\r\n  REVG":            []byte("ABCDEF"),
		"QQ==Qg==":                  []byte("AB"),
		"QUJ*D!":                    []byte("ABC"),
		"Q":                         {},
		"":                          {},
	}
	for in, want := range tests {
		if got := decodeBase64Lenient([]byte(in)); !bytes.Equal(got, want) {
			t.Errorf("decode(%.40q) = %.40q, want %.40q", in, got, want)
		}
	}
}

func TestHTMLToText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"<p>a</p><p>b</p>", "a\n\nb"},
		{"a<br>b<br><br><br><br>c", "a\nb\n\nc"},
		{"<div>x</div><div>y</div>", "x\ny"},
		{"  lots   of \n\n space  ", "lots of space"},
		{"<pre>  keep\n    this</pre>after", "keep\n    this\n\nafter"},
		{"<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"},
		{"x<script>var a = '<p>';</script>y<style>p{}</style>z", "xyz"},
		{"&lt;b&gt; &amp;&nbsp;&#x263A; &bogus;", "<b> & ☺ &bogus;"},
		{"<p>unclosed <b>bold", "unclosed bold"},
		{"<script>never closed", ""},
	}
	for _, tt := range tests {
		if got := htmlToText(tt.in); got != tt.want {
			t.Errorf("htmlToText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A 20 MB attachment arrives whole and the parser does not copy it more
// than once: the decoded bytes are the only large allocation.
func TestParseLargeAttachment(t *testing.T) {
	const size = 20 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*31 + i>>11)
	}
	var raw bytes.Buffer
	raw.WriteString("From: big@example.com\r\nSubject: big\r\nMessage-ID: <big@example.com>\r\n" +
		"Content-Type: multipart/mixed; boundary=big\r\n\r\n--big\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--big\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=big.bin\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for i := 0; i < len(enc); i += 76 {
		raw.WriteString(enc[i:min(i+76, len(enc))])
		raw.WriteString("\r\n")
	}
	raw.WriteString("--big--\r\n")
	enc = ""
	input := raw.Bytes()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := Parse(input)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "big.bin" || len(m.Attachments[0].Data) != size {
		t.Fatalf("attachments = %+v", attachmentsOf(m))
	}
	if sha256.Sum256(m.Attachments[0].Data) != sha256.Sum256(data) {
		t.Error("attachment data differs")
	}
	if m.Text != "see attached" {
		t.Errorf("Text = %q", m.Text)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 2*size {
		t.Errorf("parsing allocated %d MB for a %d MB attachment", allocated>>20, size>>20)
	}
}

func TestParseBlankTextAlternativeUsesHTML(t *testing.T) {
	t.Parallel()
	raw := "From: a@example.com\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n" +
		"--a\r\nContent-Type: text/plain\r\n\r\n \r\n" +
		"--a\r\nContent-Type: text/html\r\n\r\n<pre>one&#13;\r\ntwo</pre>\r\n--a--\r\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, m)
	if m.Text != "one\ntwo" {
		t.Errorf("Text = %q, want the text of the HTML part", m.Text)
	}
}
