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
//
// A merged conversation's threads and participants are in the one it was
// merged into, and so is the message.
func findConversation(ctx context.Context, t *tx, mailboxID int64, msg *helpdesk.IncomingMessage) (int64, error) {
	refs := slices.DeleteFunc(msg.ReferencedIDs(), t.store.signer.PosesAsOurs)
	id, err := conversationByReferences(ctx, t, mailboxID, refs)
	if err != nil {
		return 0, err
	}
	if id != 0 {
		// A merge committed since the lookup moved the threads on.
		return followMerged(ctx, t, id)
	}
	return conversationBySubjectToken(ctx, t, mailboxID, msg.Subject, msg.Sender().Email)
}

// followMerged returns the conversation that conversation id lives on
// in (0: no such conversation): itself, or the one it was merged into.
func followMerged(ctx context.Context, t *tx, id int64) (int64, error) {
	var live int64
	err := t.get(ctx, &live, t.q().FollowMerged, id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("follow merged conversation %d: %w", id, err)
	}
	return live, nil
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
	token, ok := helpdesk.SubjectToken(subject)
	if !ok || sender == "" {
		return 0, nil
	}
	number, err := followMerged(ctx, t, token)
	if err != nil || number == 0 {
		return 0, err
	}
	if err := t.flushFor(ctx, participantLookup(number, strings.ToLower(sender))); err != nil {
		return 0, err
	}
	var id int64
	err = t.get(ctx, &id, t.q().ConversationBySubjectToken, number, mailboxID, strings.ToLower(sender))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("thread by subject token: %w", err)
	}
	return id, nil
}
