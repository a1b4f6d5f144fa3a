package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// findConversation picks the conversation a customer message belongs to in
// its mailbox, or 0 for a new one:
//  1. a Message-ID in In-Reply-To/References that we stored (a customer
//     message or one of our replies), except those that pose as ours
//     without our key: the unkeyed ones of replies sent by older versions
//     can be computed by anyone;
//  2. else a [#N] subject token, but only when the sender already takes
//     part in conversation N (a stranger quoting a number must not land in
//     someone else's conversation). Answers to those older replies thread
//     this way.
func findConversation(ctx context.Context, t *tx, mailboxID int64, msg *helpdesk.IncomingMessage) (int64, error) {
	refs := slices.DeleteFunc(msg.ReferencedIDs(), t.store.signer.PosesAsOurs)
	if id, err := conversationByReferences(ctx, t, mailboxID, refs); err != nil || id != 0 {
		return id, err
	}
	return conversationBySubjectToken(ctx, t, mailboxID, msg.Subject, msg.Sender().Email)
}

func conversationByReferences(ctx context.Context, t *tx, mailboxID int64, ids []string) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	if err := t.flushFor(ctx, messageIDLookups(ids...)...); err != nil {
		return 0, err
	}
	list, err := t.store.dialect.listArg(ids)
	if err != nil {
		return 0, err
	}
	var id int64
	err = t.get(ctx, &id, t.q().ConversationByReferences, mailboxID, list)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("thread by references: %w", err)
	}
	return id, nil
}

func conversationBySubjectToken(ctx context.Context, t *tx, mailboxID int64, subject, sender string) (int64, error) {
	number, ok := helpdesk.SubjectToken(subject)
	if !ok || sender == "" {
		return 0, nil
	}
	if err := t.flushFor(ctx, participantLookup(number, strings.ToLower(sender))); err != nil {
		return 0, err
	}
	var id int64
	err := t.get(ctx, &id, t.q().ConversationBySubjectToken, number, mailboxID, strings.ToLower(sender))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("thread by subject token: %w", err)
	}
	return id, nil
}
