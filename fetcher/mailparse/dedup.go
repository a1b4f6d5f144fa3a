package mailparse

import (
	"bufio"
	"bytes"

	"github.com/emersion/go-message/textproto"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// HeaderDedupKey computes the dedup key from a message header alone (the
// header fields in helpdesk.DedupHeaders, as fetched before any body), or
// "" when the message has no Message-ID and the key needs its body. For a
// message with a Message-ID it equals the DedupKey that Parse sets.
func HeaderDedupKey(header []byte) string {
	// Read as Parse reads it; the block ends in a blank line even when the
	// server sent none.
	block, _, _ := cleanHeaderBlock(header)
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(block)))
	if err != nil {
		return ""
	}
	key, needBody := helpdesk.DedupKey(h.Get("Message-Id"), h.Get("From"), h.Get("Date"), h.Get("Subject"), nil)
	if needBody {
		return ""
	}
	return key
}
