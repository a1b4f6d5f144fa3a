package mailparse

import (
	"strings"

	"github.com/emersion/go-message/mail"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// detectAutoReply tells whether a message was sent by a machine, so that
// nothing answers it (mail loops) and nobody is notified. The reason names
// the first signal found. It needs the From and Auto-Submitted fields of
// msg filled in.
//
// List-Id and List-Unsubscribe alone do not count: newsletters carry them
// and customers answer from mailing lists too. With Precedence they do.
func detectAutoReply(h mail.Header, msg *helpdesk.IncomingMessage) (bool, string) {
	if v := msg.AutoSubmitted; v != "" && v != "no" {
		return true, "auto-submitted: " + v // RFC 3834
	}
	if rt := deliveryReportType(h); rt != "" {
		return true, "report: " + rt
	}
	if local := bounceSender(h, msg.From); local != "" {
		return true, "bounce: " + local
	}
	for _, key := range []string{"X-Autoreply", "X-Autorespond"} {
		if h.Has(key) && !isNegative(h.Get(key)) {
			return true, strings.ToLower(key)
		}
	}
	if v := autoResponseSuppress(h.Get("X-Auto-Response-Suppress")); v != "" {
		return true, "x-auto-response-suppress: " + v
	}
	if p := firstToken(h.Get("Precedence")); p == "bulk" || p == "junk" || p == "list" {
		if h.Has("List-Id") || h.Has("List-Unsubscribe") {
			return true, "list"
		}
		return true, "precedence: " + p
	}
	return false, ""
}

// deliveryReportType returns the report type of a top-level DSN or MDN
// (RFC 3462 multipart/report).
func deliveryReportType(h mail.Header) string {
	ct := parseContentType(h.Header.Header)
	if ct.mediaType != "multipart/report" {
		return ""
	}
	switch rt := strings.ToLower(strings.TrimSpace(ct.params["report-type"])); rt {
	case "delivery-status", "disposition-notification":
		return rt
	}
	return ""
}

// bounceSender returns the local part of a MAILER-DAEMON or postmaster
// sender whose Return-Path is null (RFC 5321 4.5.5) or missing; a person
// writing from postmaster@ has a real Return-Path.
func bounceSender(h mail.Header, from helpdesk.Address) string {
	local, _, _ := strings.Cut(from.Email, "@")
	if local != "mailer-daemon" && local != "postmaster" {
		return ""
	}
	rp := strings.Join(strings.Fields(h.Get("Return-Path")), "")
	if rp != "" && rp != "<>" {
		return ""
	}
	return local
}

// autoResponseSuppress returns the Exchange suppression flag that marks
// an automatic message, if any.
func autoResponseSuppress(v string) string {
	for _, f := range strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if f == "all" || f == "oof" || f == "autoreply" {
			return f
		}
	}
	return ""
}

// firstToken is the lower-cased value before any parameters or comment.
func firstToken(v string) string {
	v, _, _ = strings.Cut(v, ";")
	v, _, _ = strings.Cut(v, "(")
	return strings.ToLower(strings.TrimSpace(v))
}

func isNegative(v string) bool {
	switch firstToken(v) {
	case "no", "false", "0", "off":
		return true
	}
	return false
}
