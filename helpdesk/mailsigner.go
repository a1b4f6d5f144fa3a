package helpdesk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MailSigner keys what marks mail as ours with the secret key: the
// Message-IDs of the outbox, which replies are threaded by, and the loop
// header, which silences notifications. Nobody who has not received our
// mail can produce them; a Message-ID computed without the key, as the
// ones we sent before they were keyed can be, is not ours.
type MailSigner struct {
	key []byte
}

// NewMailSigner derives the signing key from HELPDESK_SECRET_KEY.
func NewMailSigner(secretKey string) *MailSigner {
	key := sha256.Sum256([]byte("helpdesk outbound mail\x00" + secretKey))
	return &MailSigner{key: key[:]}
}

const (
	ourMessageIDPrefix = "hd-"
	idNameLen          = 24 // hex digits
	idCheckLen         = 16
)

// MessageID is the Message-ID of an outbox row, derived from its dedup
// key: a resend carries the same one. It is "hd-" + a name + a check of
// the name, both keyed, so that OurMessageID can tell it is ours without
// knowing the row.
func (s *MailSigner) MessageID(dedupKey, from string) string {
	name := hex.EncodeToString(s.mac("message-id", dedupKey)[:idNameLen/2])
	domain := "helpdesk.invalid"
	if _, d, ok := strings.Cut(from, "@"); ok && d != "" {
		domain = d
	}
	return ourMessageIDPrefix + name + s.check(name) + "@" + domain
}

// OurMessageID tells whether id is a Message-ID that MessageID made.
func (s *MailSigner) OurMessageID(id string) bool {
	local, _, _ := strings.Cut(id, "@")
	signed, ok := strings.CutPrefix(local, ourMessageIDPrefix)
	if !ok || len(signed) != idNameLen+idCheckLen {
		return false
	}
	name, check := signed[:idNameLen], signed[idNameLen:]
	return hmac.Equal([]byte(check), []byte(s.check(name)))
}

// PosesAsOurs tells whether id looks like one of our Message-IDs without
// being one: a forged one, or one we sent before they were keyed, which
// anybody can compute.
func (s *MailSigner) PosesAsOurs(id string) bool {
	return strings.HasPrefix(id, ourMessageIDPrefix) && !s.OurMessageID(id)
}

func (s *MailSigner) check(name string) string {
	return hex.EncodeToString(s.mac("message-id check", name)[:idCheckLen/2])
}

// LoopValue is the value of LoopHeader for mail the mailbox sends on its
// own: the mailbox's address and its signature, lower-case as the parser
// reads it back.
func (s *MailSigner) LoopValue(mailboxEmail string) string {
	email := strings.ToLower(mailboxEmail)
	return email + "; sig=" + hex.EncodeToString(s.mac("loop", email)[:16])
}

// OurLoop tells whether a LoopHeader value is one LoopValue made.
func (s *MailSigner) OurLoop(value string) bool {
	email, _, _ := strings.Cut(value, ";")
	return email != "" && hmac.Equal([]byte(strings.ToLower(value)), []byte(s.LoopValue(strings.TrimSpace(email))))
}

// AutomaticHeaders mark mail the helpdesk sends on its own (RFC 3834), so
// that other systems do not answer it and we recognise it coming back.
func (s *MailSigner) AutomaticHeaders(autoSubmitted, mailboxEmail string) map[string]string {
	return map[string]string{
		"Auto-Submitted":           autoSubmitted,
		LoopHeader:                 s.LoopValue(mailboxEmail),
		"X-Auto-Response-Suppress": "All", // Exchange: no out-of-office replies
	}
}

// mac is the keyed hash of data for one purpose; purposes never share one.
func (s *MailSigner) mac(purpose, data string) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(purpose + "\x00" + data))
	return h.Sum(nil)
}
