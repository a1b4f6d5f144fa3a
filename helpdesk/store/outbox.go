package store

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// enqueueTx adds a mail to the outbox inside the caller's transaction and
// returns its Message-ID (without angle brackets). An existing row with the
// same dedup key is kept as it is.
func enqueueTx(ctx context.Context, t *tx, m helpdesk.OutboundMail) (string, error) {
	if err := m.Validate(); err != nil {
		return "", err
	}
	messageID := t.store.signer.MessageID(m.DedupKey, m.From)
	at := now()
	err := t.insert(ctx, insertOutbox, m.DedupKey, m.Kind, nullID(m.MailboxID), nullID(m.ThreadID), m.From,
		strings.Join(m.To, ", "), m.Subject, m.BodyText, encodeHeaders(m.Headers), messageID, "pending", int64(0), at, at)
	if err != nil {
		return "", fmt.Errorf("enqueue %s: %w", m.DedupKey, err)
	}
	return messageID, nil
}

// encodeHeaders stores extra headers as "Name: value" lines, sorted.
func encodeHeaders(h map[string]string) string {
	lines := make([]string, 0, len(h))
	for k, v := range h {
		lines = append(lines, k+": "+v)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
