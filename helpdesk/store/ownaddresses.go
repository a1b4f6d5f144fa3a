package store

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// OwnAddresses are the addresses this helpdesk fetches mail for (every
// mailbox's, and its IMAP account's when that is an address): mail sent to
// one of them comes back in as a new conversation.
func (s *Store) OwnAddresses(ctx context.Context) ([]string, error) {
	var own []string
	if err := s.convQ.OwnAddresses.SelectContext(ctx, &own); err != nil {
		return nil, fmt.Errorf("get own addresses: %w", err)
	}
	return own, nil
}

// refuseOwnAddressesTx refuses mail to one of the helpdesk's own addresses:
// the addresses of each field (cc, bcc, forward_to), all fields at once.
func refuseOwnAddressesTx(ctx context.Context, t *tx, q *conversationQueries, byField map[string][]string) error {
	var own []string
	if err := t.sel(ctx, &own, q.OwnAddresses); err != nil {
		return fmt.Errorf("get own addresses: %w", err)
	}
	bad := map[string]string{}
	for field, addrs := range byField {
		var ve *helpdesk.ValidationError
		if errors.As(helpdesk.RefuseOwnAddresses(field, addrs, own), &ve) {
			maps.Copy(bad, ve.Fields)
		}
	}
	if len(bad) > 0 {
		return &helpdesk.ValidationError{Fields: bad}
	}
	return nil
}
