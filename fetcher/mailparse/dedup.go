package mailparse

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"github.com/emersion/go-message/textproto"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// HeaderDedupKey computes the dedup key from a message header alone (the
// header fields in helpdesk.DedupHeaders, as fetched before any body), or
// "" when the message has no Message-ID and the key needs its body. For a
// message with a Message-ID it equals the DedupKey that Parse sets.
func HeaderDedupKey(header []byte) string {
	// A blank line ends the header even when the server sent none; header
	// itself is not appended to, it may share memory with the caller's.
	r := io.MultiReader(bytes.NewReader(header), strings.NewReader("\r\n"))
	h, err := textproto.ReadHeader(bufio.NewReader(r))
	if err != nil {
		return ""
	}
	key, needBody := helpdesk.DedupKey(h.Get("Message-Id"), h.Get("From"), h.Get("Date"), h.Get("Subject"), nil)
	if needBody {
		return ""
	}
	return key
}
