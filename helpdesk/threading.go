package helpdesk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
)

// maxThreadingRefs caps how many Message-IDs of a References chain are
// looked up; the newest ones are the ones that matter.
const maxThreadingRefs = 50

var subjectToken = regexp.MustCompile(`\[#(\d{1,18})\]`)

// findConversation picks the conversation a customer message belongs to in
// its mailbox, or 0 for a new one:
//  1. a Message-ID in In-Reply-To/References that we stored (a customer
//     message or one of our replies);
//  2. else a [#N] subject token, but only when the sender already takes
//     part in conversation N (a stranger quoting a number must not land in
//     someone else's conversation).
func findConversation(ctx context.Context, t *fetchTx, mailboxID int64, msg *IncomingMessage) (int64, error) {
	if id, err := conversationByReferences(ctx, t, mailboxID, referencedIDs(msg)); err != nil || id != 0 {
		return id, err
	}
	return conversationBySubjectToken(ctx, t, mailboxID, msg.Subject, senderOf(msg).Email)
}

// referencedIDs is In-Reply-To plus the newest References, without repeats.
func referencedIDs(msg *IncomingMessage) []string {
	refs := msg.References
	if len(refs) > maxThreadingRefs {
		refs = refs[len(refs)-maxThreadingRefs:]
	}
	seen := map[string]bool{}
	var ids []string
	for _, id := range append([]string{msg.InReplyTo}, refs...) {
		if id != "" && !seen[id] && id != msg.MessageID {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

func conversationByReferences(ctx context.Context, t *fetchTx, mailboxID int64, ids []string) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	if err := t.flushFor(ctx, messageIDLookups(ids...)...); err != nil {
		return 0, err
	}
	q, args, err := sqlx.In(`SELECT t.conversation_id FROM threads t
		JOIN conversations c ON c.id = t.conversation_id
		WHERE c.mailbox_id = ? AND t.message_id IN (?)
		ORDER BY t.id DESC LIMIT 1`, mailboxID, ids)
	if err != nil {
		return 0, err
	}
	var id int64
	err = t.tx.GetContext(ctx, &id, t.tx.Rebind(q), args...) // the IN list varies: not cached
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("thread by references: %w", err)
	}
	return id, nil
}

func conversationBySubjectToken(ctx context.Context, t *fetchTx, mailboxID int64, subject, sender string) (int64, error) {
	m := subjectToken.FindStringSubmatch(subject)
	if m == nil || sender == "" {
		return 0, nil
	}
	number, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, nil
	}
	if err := t.flushFor(ctx, participantLookup(number, strings.ToLower(sender))); err != nil {
		return 0, err
	}
	var id int64
	err = t.get(ctx, &id, `SELECT c.id FROM conversations c
		JOIN conversation_participants p ON p.conversation_id = c.id
		WHERE c.id = ? AND c.mailbox_id = ? AND p.email = ?`, number, mailboxID, strings.ToLower(sender))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("thread by subject token: %w", err)
	}
	return id, nil
}

// SubjectWithToken adds the conversation's [#N] token to a reply subject
// once, so a customer's answer threads back even without references.
func SubjectWithToken(subject string, number int64) string {
	token := fmt.Sprintf("[#%d]", number)
	if strings.Contains(subject, token) {
		return subject
	}
	return strings.TrimSpace(subject + " " + token)
}
