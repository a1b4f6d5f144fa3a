package mailparse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message/textproto"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// bodyWalker collects the bodies and attachments of one message. It splits
// multiparts over the raw bytes itself instead of using go-message's
// streaming reader so that a part with a broken header can be skipped with
// the parts after it kept, and so that a part that cannot be decoded can be
// kept raw, without copying the message for each nesting level.
type bodyWalker struct {
	msg      *helpdesk.IncomingMessage
	haveText bool
	haveHTML bool
	nodes    int // MIME nodes visited, bounded by maxParts; numbers part-N.bin
}

func (w *bodyWalker) walk(h textproto.Header, body []byte, depth int) {
	w.nodes++
	ct := parseContentType(h)
	if strings.HasPrefix(ct.mediaType, "multipart/") && depth < maxMultipartDepth {
		if w.walkMultipart(ct, body, depth) {
			return
		}
		// No part could be found: show the body as text rather than hide it.
		ct = contentType{mediaType: "text/plain", params: ct.params}
	}
	w.leaf(h, ct, body)
}

// walkMultipart reports false when body holds no part at all.
func (w *bodyWalker) walkMultipart(ct contentType, body []byte, depth int) bool {
	parts := splitMultipart(body, ct.params["boundary"])
	if len(parts) == 0 {
		parts = splitMultipart(body, sniffBoundary(body))
	}
	if len(parts) == 0 {
		return false
	}
	for _, p := range parts {
		if w.nodes >= maxParts {
			break
		}
		h, partBody, err := readPartHeader(p)
		if err != nil {
			w.nodes++
			w.keepUndecodable(p)
			continue
		}
		w.walk(h, partBody, depth+1)
	}
	return true
}

// leaf files one non-multipart entity as the text body, the HTML body or
// an attachment.
func (w *bodyWalker) leaf(h textproto.Header, ct contentType, body []byte) {
	disp := parseContentDisposition(h)
	data, ok := decodeTransferEncoding(h.Get("Content-Transfer-Encoding"), body)
	isAttachment := disp.kind == "attachment"
	switch {
	case !isAttachment && ct.isText("plain") && !w.haveText:
		w.msg.Text = decodeText(data, ct.params["charset"])
		w.haveText = true
	case !isAttachment && ct.isText("html") && !w.haveHTML:
		w.msg.HTML = decodeText(data, ct.params["charset"])
		w.haveHTML = true
	case !ok:
		w.keepUndecodable(body)
	default:
		w.msg.Attachments = append(w.msg.Attachments, newAttachment(h, ct, disp, ownedBytes(data, body)))
	}
}

// ownedBytes copies data when it is the undecoded body, a slice of the raw
// message, so that an attachment does not pin or share the raw buffer.
func ownedBytes(data, body []byte) []byte {
	if len(data) > 0 && len(body) > 0 && &data[0] == &body[0] {
		return bytes.Clone(data)
	}
	return data
}

// keepUndecodable stores the raw bytes of a part we cannot interpret, so
// that an attachment is never silently dropped.
func (w *bodyWalker) keepUndecodable(raw []byte) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return
	}
	w.msg.Attachments = append(w.msg.Attachments, helpdesk.Attachment{
		Filename:    fmt.Sprintf("part-%d.bin", w.nodes),
		ContentType: "application/octet-stream",
		Data:        bytes.Clone(raw),
	})
}

func newAttachment(h textproto.Header, ct contentType, disp contentDisposition, data []byte) helpdesk.Attachment {
	name := disp.params["filename"]
	if name == "" {
		name = ct.params["name"]
	}
	mediaType := ct.mediaType
	if mediaType == "" {
		mediaType = "application/octet-stream"
	}
	contentID := cleanID(h.Get("Content-Id"))
	return helpdesk.Attachment{
		Filename:    sanitizeFilename(name, mediaType),
		ContentType: mediaType,
		ContentID:   contentID,
		Inline:      disp.kind == "inline" || disp.kind == "" && contentID != "",
		Data:        data,
	}
}

var errNoPartHeader = errors.New("part header unreadable")

// readPartHeader reads the header of one multipart part with go-message.
// A part without an empty line is accepted as a header-only part when all of
// it parses as header fields.
func readPartHeader(part []byte) (textproto.Header, []byte, error) {
	end, found := headerEnd(part)
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(part[:end])))
	if err != nil && !(err == io.EOF && !found) {
		return h, nil, fmt.Errorf("%w: %v", errNoPartHeader, err)
	}
	return h, part[end:], nil
}

// headerEnd returns the offset just after the first empty line (CRLF or LF),
// i.e. where the body starts, and whether there was such a line.
func headerEnd(b []byte) (int, bool) {
	pos := 0
	for pos < len(b) {
		if b[pos] == '\n' {
			return pos + 1, true
		}
		if b[pos] == '\r' && pos+1 < len(b) && b[pos+1] == '\n' {
			return pos + 2, true
		}
		nl := bytes.IndexByte(b[pos:], '\n')
		if nl < 0 {
			break
		}
		pos += nl + 1
	}
	return len(b), false
}

// splitMultipart returns the bodies of the parts of a multipart body as
// sub-slices, in one pass over the lines. The part after the last
// delimiter is kept even when the closing delimiter is missing.
func splitMultipart(body []byte, boundary string) [][]byte {
	if boundary == "" {
		return nil
	}
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1
	for pos := 0; pos < len(body); {
		next := len(body)
		if nl := bytes.IndexByte(body[pos:], '\n'); nl >= 0 {
			next = pos + nl + 1
		}
		switch delimiterKind(body[pos:next], delim) {
		case partDelimiter:
			if start >= 0 {
				parts = append(parts, trimLineEnd(body[start:pos]))
			}
			start = next
		case closeDelimiter:
			if start >= 0 {
				parts = append(parts, trimLineEnd(body[start:pos]))
			}
			return parts
		}
		if len(parts) >= maxParts {
			return parts
		}
		pos = next
	}
	if start >= 0 {
		parts = append(parts, body[start:])
	}
	return parts
}

type delimiterLine int

const (
	notDelimiter delimiterLine = iota
	partDelimiter
	closeDelimiter
)

func delimiterKind(line, delim []byte) delimiterLine {
	if !bytes.HasPrefix(line, delim) {
		return notDelimiter
	}
	rest := line[len(delim):]
	kind := partDelimiter
	if bytes.HasPrefix(rest, []byte("--")) {
		kind, rest = closeDelimiter, rest[2:]
	}
	if len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return notDelimiter // a longer boundary that starts with ours
	}
	return kind
}

// trimLineEnd drops the line break before a delimiter: it belongs to the
// delimiter (RFC 2046 5.1.1).
func trimLineEnd(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b[:len(b)-2]
	}
	return bytes.TrimSuffix(b, []byte("\n"))
}

// sniffBoundary guesses the boundary of a multipart whose declared boundary
// is missing or wrong, from the first line that looks like a delimiter.
func sniffBoundary(body []byte) string {
	for len(body) > 0 {
		line := body
		if nl := bytes.IndexByte(body, '\n'); nl >= 0 {
			line, body = body[:nl], body[nl+1:]
		} else {
			body = nil
		}
		line = bytes.TrimRight(line, " \t\r")
		if len(line) > 2 && len(line) <= 200 && bytes.HasPrefix(line, []byte("--")) {
			b := bytes.TrimSuffix(line[2:], []byte("--"))
			if len(b) > 0 && bytes.IndexAny(b, " \t") < 0 {
				return string(b)
			}
		}
	}
	return ""
}

// normalizeNewlines turns CRLF and lone CR into LF.
func normalizeNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}
