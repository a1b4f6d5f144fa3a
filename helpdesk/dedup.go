package helpdesk

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// DedupHeaders are the header fields a dedup key is built from. The fetcher
// asks the IMAP server for exactly these before downloading a body.
var DedupHeaders = []string{"Message-Id", "From", "Date", "Subject"}

// DedupKey identifies one mail within a mailbox, whatever folder or UID it
// was found under. With a Message-ID the key covers the ID plus From, Date
// and Subject, so a sender that reuses an ID for a different mail does not
// lose that mail; without one it falls back to a hash of those headers and
// the body. Header values are taken raw (undecoded), with folding and outer
// space removed, so the header-only phase and the full parse agree.
// needBody reports that the key cannot be known without the body.
func DedupKey(messageID, from, date, subject string, body []byte) (key string, needBody bool) {
	h := sha256.New()
	for _, v := range []string{messageID, from, date, subject} {
		h.Write([]byte(normalizeHeaderValue(v)))
		h.Write([]byte{0})
	}
	if normalizeHeaderValue(messageID) != "" {
		return "mid:" + hex.EncodeToString(h.Sum(nil)), false
	}
	if body == nil {
		return "", true
	}
	h.Write(body)
	return "hash:" + hex.EncodeToString(h.Sum(nil)), false
}

func normalizeHeaderValue(v string) string {
	return strings.Join(strings.Fields(v), " ")
}
