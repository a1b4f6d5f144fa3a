// Package helpdesk is the domain: mailboxes, customers, conversations,
// threads, users and the outbox as plain types with their validation, the
// threading rules, the dedup key and the sentinel errors. It holds no SQL;
// package helpdesk/store reads and writes these types.
package helpdesk

import "time"

// Address is one mailbox address from a header, already decoded (RFC 2047).
type Address struct {
	Name  string
	Email string // lower-cased
}

// Attachment is a file part of an incoming or outgoing message.
type Attachment struct {
	Filename    string // sanitised: no path, no control characters
	ContentType string // media type only, e.g. "image/png"
	ContentID   string // without angle brackets; set for inline cid: parts
	Inline      bool
	Data        []byte
}

// IncomingMessage is one customer email, parsed into plain values by
// fetcher/mailparse. It carries every header field a later stage decides
// on, so that nothing after the parser reads Raw's header again. Ingest
// stores it; nothing here depends on IMAP.
type IncomingMessage struct {
	MessageID   string   // without angle brackets; empty when the mail has none
	InReplyTo   string   // without angle brackets
	References  []string // without angle brackets, oldest first
	From        Address
	ReplyTo     []Address
	To          []Address
	Cc          []Address
	Subject     string
	Date        time.Time // zero when missing or unparsable
	Text        string    // plain-text body (UTF-8); derived from HTML when only HTML was sent
	HTML        string    // HTML body (UTF-8), unsanitised; sanitised on display
	Attachments []Attachment

	// AutoReply marks auto-replies, bounces and bulk mail (RFC 3834
	// Auto-Submitted, Precedence, X-Autoreply, DSN multipart/report):
	// nothing may answer or notify on them.
	AutoReply  bool
	AutoReason string // why AutoReply is set, e.g. "auto-submitted: auto-replied"
	// AutoSubmitted is the keyword of the Auto-Submitted field (RFC 3834),
	// lower-cased, without parameters or comment: "no", "auto-replied",
	// "auto-generated"...; "" when the field is absent.
	AutoSubmitted string
	// Loop is the value of LoopHeader, lower-cased: the helpdesk
	// mailbox that sent this mail and its signature, when it is a
	// helpdesk's automatic mail coming back; "" when the field is absent.
	Loop string

	// DedupKey identifies the message within a mailbox regardless of the
	// folder or UID it was found under (see DedupKey in dedup.go).
	DedupKey string
	Raw      []byte // the message exactly as fetched
	// RawGzip is Raw compressed by CompressRaw, when the fetcher did it
	// ahead of the store (off the goroutine that writes); else Ingest does.
	RawGzip []byte
}

// Sender is who the conversation is with: From, else Reply-To.
func (msg *IncomingMessage) Sender() Address {
	if msg.From.Email != "" || len(msg.ReplyTo) == 0 {
		return msg.From
	}
	return msg.ReplyTo[0]
}
