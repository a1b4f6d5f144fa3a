package notifier

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Compose renders an outbox row as an RFC 5322 message: UTF-8 text,
// quoted-printable, RFC 2047 encoded subject, the row's Message-ID and
// enqueue time, and its extra headers (In-Reply-To/References for replies,
// Auto-Submitted, X-Helpdesk-Loop). A row with an HTML body goes out as
// multipart/alternative (the text, then the HTML); one with attachments as
// multipart/mixed around that, each file base64. Cc is a header; Bcc is
// only ever in the envelope. The MIME boundaries derive from the
// Message-ID, so composing a row again gives the same bytes.
func Compose(m helpdesk.OutboxMessage) ([]byte, error) {
	h := mailHeader(m)
	var buf bytes.Buffer
	var err error
	if len(m.Attachments) == 0 && m.BodyHTML == "" {
		err = writeText(&buf, h, m.BodyText)
	} else {
		err = writeMultipart(&buf, h, m)
	}
	if err != nil {
		return nil, fmt.Errorf("compose outbox %d: %w", m.ID, err)
	}
	return buf.Bytes(), nil
}

func mailHeader(m helpdesk.OutboxMessage) mail.Header {
	var h mail.Header
	h.SetDate(m.CreatedAt)
	h.SetAddressList("From", []*mail.Address{{Address: m.From}})
	h.SetAddressList("To", addressList(m.To))
	if len(m.Cc) > 0 {
		h.SetAddressList("Cc", addressList(m.Cc))
	}
	h.SetSubject(m.Subject)
	h.SetMessageID(m.MessageID)
	// Sorted, so that composing a row again gives the same bytes.
	for _, k := range slices.Sorted(maps.Keys(m.Headers)) {
		v := m.Headers[k]
		switch strings.ToLower(k) {
		case "in-reply-to", "references":
			h.Set(k, v) // message ids: plain ASCII, no encoding
		case "from", "to", "cc", "bcc", "subject", "message-id", "date", "mime-version", "content-type", "content-transfer-encoding":
			// set above from the row; a stored header cannot override them
		default:
			h.SetText(k, v)
		}
	}
	return h
}

func addressList(addrs []string) []*mail.Address {
	list := make([]*mail.Address, len(addrs))
	for i, a := range addrs {
		list[i] = &mail.Address{Address: a}
	}
	return list
}

// writeText writes a plain-text mail: one part, as every mail was before
// HTML and attachments.
func writeText(w io.Writer, h mail.Header, text string) error {
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	tw, err := mail.CreateSingleInlineWriter(w, h)
	if err != nil {
		return err
	}
	return writeAndClose(tw, crlf(text))
}

// writeMultipart writes the text (with its HTML alternative) and the
// attachments.
func writeMultipart(w io.Writer, h mail.Header, m helpdesk.OutboxMessage) error {
	if len(m.Attachments) == 0 {
		return writeBody(w, h, m, true)
	}
	h.SetContentType("multipart/mixed", map[string]string{"boundary": boundary("mixed", m.MessageID)})
	mw, err := message.CreateWriter(w, h.Header)
	if err != nil {
		return err
	}
	var bh message.Header
	if err := writeBody(mw, mail.Header{Header: bh}, m, false); err != nil {
		return err
	}
	for _, a := range m.Attachments {
		var ah mail.AttachmentHeader
		ah.SetContentType(a.ContentType, nil)
		ah.SetFilename(a.Filename)
		ah.Set("Content-Transfer-Encoding", "base64")
		pw, err := mw.CreatePart(ah.Header)
		if err != nil {
			return err
		}
		if err := writeAndClose(pw, a.Data); err != nil {
			return err
		}
	}
	return mw.Close()
}

// writeBody writes the text, as multipart/alternative with the HTML when
// there is HTML: as the whole message (top) or as a part of mw.
func writeBody(w io.Writer, h mail.Header, m helpdesk.OutboxMessage, top bool) error {
	create := func(h message.Header) (*message.Writer, error) {
		if top {
			return message.CreateWriter(w, h)
		}
		return w.(*message.Writer).CreatePart(h)
	}
	if m.BodyHTML == "" {
		h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		tw, err := create(h.Header)
		if err != nil {
			return err
		}
		return writeAndClose(tw, crlf(m.BodyText))
	}
	h.SetContentType("multipart/alternative", map[string]string{"boundary": boundary("alternative", m.MessageID)})
	aw, err := create(h.Header)
	if err != nil {
		return err
	}
	for _, part := range []struct{ mediaType, body string }{{"text/plain", m.BodyText}, {"text/html", m.BodyHTML}} {
		var ph mail.InlineHeader
		ph.SetContentType(part.mediaType, map[string]string{"charset": "utf-8"})
		ph.Set("Content-Transfer-Encoding", "quoted-printable")
		pw, err := aw.CreatePart(ph.Header)
		if err != nil {
			return err
		}
		if err := writeAndClose(pw, crlf(part.body)); err != nil {
			return err
		}
	}
	return aw.Close()
}

// boundary is a MIME boundary of one message: "=_" cannot occur in
// quoted-printable or base64 text, so no part can contain it.
func boundary(kind, messageID string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + messageID))
	return "=_hd_" + kind + "_" + hex.EncodeToString(sum[:12])
}

func crlf(text string) []byte {
	return []byte(strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n"))
}

func writeAndClose(w io.WriteCloser, data []byte) error {
	if _, err := w.Write(data); err != nil {
		return err
	}
	return w.Close()
}
