package mailparse

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// maxSalvagedText is how much of an unreadable message's raw text agents
// are shown; quarantine keeps all of it.
const maxSalvagedText = 256 << 10

// Salvage is what agents are shown of a message Parse cannot read: the
// sender and the subject if header lines name them, and the raw text,
// made safe to store and show (valid UTF-8, controls and NUL bytes as
// U+FFFD, "\n" line breaks). From is empty when no sender was found.
func Salvage(raw []byte) *helpdesk.IncomingMessage {
	h := salvageHeader(raw)
	msg := &helpdesk.IncomingMessage{Raw: raw}
	for _, key := range []string{"From", "Sender", "Reply-To", "Return-Path"} {
		if list := parseAddressList(h, key); len(list) > 0 {
			msg.From = list[0]
			break
		}
	}
	msg.Subject = truncateUTF8(cleanHeaderText(h.Get("Subject")), maxIDBytes)
	msg.Text = salvagedText(raw)
	return msg
}

// salvageHeader reads every line of the header block that looks like a
// field on its own, folded or not, and skips the rest.
func salvageHeader(raw []byte) mail.Header {
	var h textproto.Header
	b := raw[skipMboxFromLine(raw):]
	lines, _, _ := headerLines(b)
	for _, l := range lines {
		line := bytes.TrimLeft(b[l.start:l.textEnd], " \t")
		if len(line) == 0 || kindOf(line) != fieldLine {
			continue
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		h.Add(string(bytes.TrimSpace(name)), string(bytes.TrimSpace(value)))
	}
	return mail.Header{Header: message.Header{Header: h}}
}

func salvagedText(raw []byte) string {
	shown := raw[:min(len(raw), maxSalvagedText)]
	text := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return unicode.ReplacementChar
	}, replaceInvalidUTF8(normalizeNewlines(string(shown))))
	if cut := len(raw) - len(shown); cut > 0 {
		text += fmt.Sprintf("\n[%d more bytes not shown: the whole message is kept in quarantine]\n", cut)
	}
	return text
}
