// Package mailparse turns raw RFC 822 messages into helpdesk.IncomingMessage
// values: every header field later stages decide on is read here, so that
// nothing after the parser reads the raw header again.
package mailparse

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // registers charsets with go-message
	"github.com/emersion/go-message/mail"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Bounds that keep parsing linear and memory-bounded on hostile input.
const (
	maxMultipartDepth = 16   // deeper multiparts are kept as one opaque attachment
	maxParts          = 1000 // MIME nodes visited per message; the raw keeps the rest
	maxReferences     = 100  // the root and the newest IDs are what threading needs
	maxIDBytes        = 998  // longest Message-ID kept: RFC 5322 line length, fits a DB index
)

// ErrUnparsable is wrapped by every error of Parse: the message cannot be
// a conversation and goes to quarantine with its raw kept.
var ErrUnparsable = errors.New("unparsable message")

// Parse turns one raw RFC 822 message into the plain value Ingest stores.
// An error means the message cannot be stored as a conversation and goes to quarantine (raw kept).
//
// Only a message without a readable header is an error. Everything else is
// tolerated and kept: unknown charsets become UTF-8 with invalid bytes
// replaced, broken parts are skipped or kept as raw "part-N.bin"
// attachments, bad dates become the zero time. A message without From is
// returned with an empty From; the caller decides what to do with it.
// Raw is the input slice itself; nothing else shares memory with it.
func Parse(raw []byte) (*helpdesk.IncomingMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrUnparsable)
	}
	h, body, err := readTopHeader(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnparsable, err)
	}
	msg := &helpdesk.IncomingMessage{Raw: raw}
	fillHeaderFields(msg, h)
	msg.DedupKey, _ = helpdesk.DedupKey(h.Get("Message-Id"), h.Get("From"), h.Get("Date"), h.Get("Subject"), body)

	w := bodyWalker{msg: msg}
	w.walk(h.Header.Header, body, 0)
	if strings.TrimSpace(msg.Text) == "" && msg.HTML != "" {
		// Some clients send an empty text alternative next to the HTML.
		msg.Text = normalizeNewlines(htmlToText(msg.HTML))
	}
	msg.AutoReply, msg.AutoReason = detectAutoReply(h, msg)
	return msg, nil
}

// readTopHeader parses the message header with go-message, after
// cleanHeaderBlock has made a malformed one readable, and returns the body.
func readTopHeader(raw []byte) (mail.Header, []byte, error) {
	headerStart := skipMboxFromLine(raw)
	block, bodyStart, blankLine := cleanHeaderBlock(raw[headerStart:])
	e, err := message.Read(bytes.NewReader(block))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return mail.Header{}, nil, fmt.Errorf("read header: %w", err)
	}
	h := mail.Header{Header: e.Header}
	if !blankLine && !looksLikeMailHeader(h) {
		return mail.Header{}, nil, errors.New("no header/body separator")
	}
	return h, raw[headerStart+bodyStart:], nil
}

// skipMboxFromLine returns the offset after an mbox "From " envelope line,
// which is not a header field and would make the header unreadable.
func skipMboxFromLine(raw []byte) int {
	if !bytes.HasPrefix(raw, []byte("From ")) {
		return 0
	}
	if i := bytes.IndexByte(raw, '\n'); i >= 0 {
		return i + 1
	}
	return 0
}

// looksLikeMailHeader tells a body-less message from arbitrary bytes that
// happen to contain colons.
func looksLikeMailHeader(h mail.Header) bool {
	for _, k := range []string{"From", "To", "Subject", "Date", "Message-Id"} {
		if h.Has(k) {
			return true
		}
	}
	return false
}

func fillHeaderFields(msg *helpdesk.IncomingMessage, h mail.Header) {
	msg.MessageID = firstID(parseMsgIDs(h, "Message-Id"))
	msg.InReplyTo = firstID(parseMsgIDs(h, "In-Reply-To"))
	msg.References = limitReferences(parseMsgIDs(h, "References"))
	if from := parseAddressList(h, "From"); len(from) > 0 {
		msg.From = from[0]
	}
	msg.ReplyTo = parseAddressList(h, "Reply-To")
	msg.To = parseAddressList(h, "To")
	msg.Cc = parseAddressList(h, "Cc")
	msg.Subject = cleanHeaderText(h.Get("Subject"))
	// Structured fields: their values are never encoded words.
	msg.AutoSubmitted = firstToken(cleanLine(h.Get("Auto-Submitted")))
	msg.Loop = strings.ToLower(cleanLine(h.Get(helpdesk.LoopHeader)))
	if d, err := h.Date(); err == nil {
		msg.Date = d
	}
}

// parseMsgIDs reads a list of message identifiers without angle brackets,
// falling back to a lenient scan when the header does not follow RFC 5322.
func parseMsgIDs(h mail.Header, key string) []string {
	v := h.Get(key)
	if strings.TrimSpace(v) == "" {
		return nil
	}
	ids, err := h.MsgIDList(key)
	if err != nil || len(ids) == 0 {
		ids = lenientMsgIDs(v)
	}
	out := ids[:0]
	for _, id := range ids {
		if id = cleanID(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// lenientMsgIDs takes what is between each pair of angle brackets, or the
// whitespace-separated words when there are no brackets at all.
func lenientMsgIDs(v string) []string {
	var ids []string
	for rest := v; ; {
		open := strings.IndexByte(rest, '<')
		if open < 0 {
			break
		}
		rest = rest[open+1:]
		id, after, closed := strings.Cut(rest, ">")
		ids = append(ids, id)
		if !closed {
			break
		}
		rest = after
	}
	if len(ids) == 0 {
		ids = strings.Fields(v)
	}
	return ids
}

// cleanID removes what cannot be part of an identifier (space, controls,
// brackets, invalid UTF-8) and caps its length.
func cleanID(id string) string {
	id = strings.ToValidUTF8(id, "")
	id = strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' {
			return -1
		}
		return r
	}, id)
	return truncateUTF8(id, maxIDBytes)
}

func firstID(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// limitReferences keeps the thread root and the newest references.
func limitReferences(ids []string) []string {
	if len(ids) <= maxReferences {
		return ids
	}
	return append(ids[:1:1], ids[len(ids)-maxReferences+1:]...)
}
