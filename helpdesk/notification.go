package helpdesk

import (
	"strings"
	"time"
)

// LoopHeader names the helpdesk mailbox that sent an automatic mail
// (notification, auto-acknowledgement, alert, test), signed
// (MailSigner.LoopValue). Mail that comes back carrying it is never
// answered or notified on; an unsigned or foreign one changes nothing.
const LoopHeader = "X-Helpdesk-Loop"

// AutoAckInterval is how often one sender can get an auto-acknowledgement
// from one mailbox: a second helpdesk or an autoresponder that strips
// Auto-Submitted still cannot make us loop.
const AutoAckInterval = time.Hour

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
