package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// unkeyedMessageID is the Message-ID the outbox gave a mail before IDs
// were keyed with the secret key. Anyone can compute it: dedup keys name
// thread ids, which count up, and the domain is the mailbox's.
func unkeyedMessageID(dedupKey, domain string) string {
	sum := sha256.Sum256([]byte(dedupKey))
	return "hd-" + hex.EncodeToString(sum[:12]) + "@" + domain
}

// TestStrangerCannotThreadIn: a stranger who knows only our domain and a
// conversation number cannot get mail into the conversation, neither by
// quoting the Message-ID of our reply as it can be computed nor by the
// [#N] token; the customer's answer to the reply still threads, also to a
// reply sent before Message-IDs were keyed (by its [#N] token).
func TestStrangerCannotThreadIn(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := setupWorkspace(t, dialect)
			conv := w.ingest(t, mail{from: "alice@customer.example", subject: "Invoice", text: "where is it", messageID: "inv-1@customer.example"}).ConversationID
			reply, err := w.s.AddReply(ctx, w.agentV(), conv, helpdesk.NewReply{Body: "Attached."})
			if err != nil {
				t.Fatal(err)
			}
			token := fmt.Sprintf("[#%d]", conv)
			guessed := unkeyedMessageID(fmt.Sprintf("reply:%d", reply.ThreadID), "example.com")
			participates := func(email string) bool {
				t.Helper()
				var n int
				if err := w.db.Get(&n, w.db.Rebind(`SELECT COUNT(*) FROM conversation_participants WHERE conversation_id = ? AND email = ?`), conv, email); err != nil {
					t.Fatal(err)
				}
				return n > 0
			}
			keptOut := func(m mail) {
				t.Helper()
				if got := w.ingest(t, m).ConversationID; got == conv || participates(m.from) {
					t.Fatalf("%q from %s went to conversation %d (want a new one), participant of %d: %v", m.subject, m.from, got, conv, participates(m.from))
				}
			}
			keptOut(mail{from: "mallory@evil.example", subject: "Re: Invoice " + token, text: "pay here", inReplyTo: guessed})
			keptOut(mail{from: "mallory@evil.example", subject: "Re: Invoice " + token, text: "pay here, really"})

			// Our real reply threads the customer's answer back, whatever its subject.
			if got := w.ingest(t, mail{from: "alice@customer.example", subject: "thanks", text: "got it", inReplyTo: reply.MessageID}).ConversationID; got != conv {
				t.Fatalf("the answer to our reply went to conversation %d, want %d", got, conv)
			}

			// A reply sent before Message-IDs were keyed: the stranger who
			// computes its stored Message-ID still stays out, the customer's
			// answer threads by its [#N] token.
			old, err := w.s.AddReply(ctx, w.agentV(), conv, helpdesk.NewReply{Body: "Sent long ago."})
			if err != nil {
				t.Fatal(err)
			}
			oldID := unkeyedMessageID(fmt.Sprintf("reply:%d", old.ThreadID), "example.com")
			if _, err := w.db.Exec(w.db.Rebind(`UPDATE threads SET message_id = ? WHERE id = ?`), oldID, old.ThreadID); err != nil {
				t.Fatal(err)
			}
			keptOut(mail{from: "eve@evil.example", subject: "Re: Invoice", text: "pay here", inReplyTo: oldID})
			if got := w.ingest(t, mail{from: "alice@customer.example", subject: "Re: Invoice " + token, text: "ok", inReplyTo: oldID}).ConversationID; got != conv {
				t.Fatalf("the answer to an old reply went to conversation %d, want %d", got, conv)
			}
		})
	}
}
