package helpdesk

import (
	"strings"
	"time"
)

// LoopHeader names the helpdesk mailbox that sent an automatic mail
// (notification, auto-acknowledgement, alert, test). Mail that comes back
// carrying one of our own mailbox addresses in it is never answered or
// notified on.
const LoopHeader = "X-Helpdesk-Loop"

// AutoAckInterval is how often one sender can get an auto-acknowledgement
// from one mailbox: a second helpdesk or an autoresponder that strips
// Auto-Submitted still cannot make us loop.
const AutoAckInterval = time.Hour

// AutomaticHeaders mark mail the helpdesk sends on its own (RFC 3834), so
// that other systems do not answer it and we recognise it coming back.
func AutomaticHeaders(autoSubmitted, mailboxEmail string) map[string]string {
	return map[string]string{
		"Auto-Submitted":           autoSubmitted,
		LoopHeader:                 mailboxEmail,
		"X-Auto-Response-Suppress": "All", // Exchange: no out-of-office replies
	}
}

// NoReplyAddress: addresses no automatic answer should go to (RFC 3834 2).
func NoReplyAddress(email string) bool {
	local, _, _ := strings.Cut(email, "@")
	switch local {
	case "mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply":
		return true
	}
	return strings.HasPrefix(local, "owner-") || strings.HasSuffix(local, "-request") || strings.HasSuffix(local, "-bounces")
}

func FormatSender(a Address) string {
	if a.Name == "" {
		return a.Email
	}
	return OneLine(a.Name, 200) + " <" + a.Email + ">"
}
