package store

import (
	"context"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Signature is the signature the viewer's replies in a conversation get:
// its mailbox's template filled in with the viewer's name; "" for none.
func (s *Store) Signature(ctx context.Context, v helpdesk.Viewer, convID int64) (string, error) {
	var sig string
	err := s.inTx(ctx, func(t *tx) error {
		if _, err := checkAccessTx(ctx, t, v, convID); err != nil {
			return err
		}
		a, err := authorTx(ctx, t, v.UserID)
		if err != nil {
			return err
		}
		sig, err = signatureTx(ctx, t, convID, a.Name)
		return err
	})
	return sig, err
}

// signedTx is a reply's body with the signature of its conversation's
// mailbox for the agent.
func signedTx(ctx context.Context, t *tx, convID int64, agentName, body string) (string, error) {
	sig, err := signatureTx(ctx, t, convID, agentName)
	if err != nil {
		return "", err
	}
	return helpdesk.WithSignature(body, sig), nil
}

func signatureTx(ctx context.Context, t *tx, convID int64, agentName string) (string, error) {
	var m struct {
		Name      string `db:"name"`
		Signature string `db:"signature"`
	}
	if err := t.get(ctx, &m, t.store.mailboxQ.ReplySignature, convID); err != nil {
		return "", fmt.Errorf("read signature of conversation %d: %w", convID, err)
	}
	return helpdesk.RenderSignature(m.Signature, agentName, m.Name), nil
}
