package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// The full-text index conversation_search holds per conversation its
// subject, customer and every message (the customer's, the agents'
// replies and notes) as helpdesk.SearchText: folded in Go, so both
// databases match the same words. A message is added in the transaction
// that stores it; a rebuild that a migration asks for (search_reindex)
// runs once, in Migrate.

type searchQueries struct {
	ConversationsToIndex *sqlx.Stmt `query:"conversations-to-index"`
	ThreadBodies         *sqlx.Stmt `query:"thread-bodies"`
	DeleteSearch         *sqlx.Stmt `query:"delete-search"`
	AddSearchBody        *sqlx.Stmt `query:"add-search-body"`
	ReindexProgress      *sqlx.Stmt `query:"reindex-progress"`
	SaveReindexProgress  *sqlx.Stmt `query:"save-reindex-progress"`
	FinishReindex        *sqlx.Stmt `query:"finish-reindex"`
}

// maxIndexedMessage is how much of one message's text is indexed.
const maxIndexedMessage = 20_000

// indexMessage adds a customer message to the index of its conversation,
// which a new conversation's row starts (collected in a fetch
// transaction, rowinsert.go).
func indexMessage(ctx context.Context, t *tx, conv threadedConversation, msg *helpdesk.IncomingMessage) error {
	if !conv.created {
		return indexThread(ctx, t, conv.ID, msg.Text)
	}
	sender := msg.Sender()
	return t.insert(ctx, insertSearch, conv.ID, helpdesk.SearchText(conv.Subject),
		helpdesk.SearchText(sender.Name+" "+sender.Email), searchBody(msg.Text))
}

// indexThread adds a message of an existing conversation (a customer's,
// or an agent's reply or note) to its index, whose row a fetch
// transaction may still hold collected.
func indexThread(ctx context.Context, t *tx, convID int64, text string) error {
	if t.fetch != nil {
		if err := t.flushFor(ctx, searchLookup(convID)); err != nil {
			return err
		}
	}
	if _, err := t.exec(ctx, t.store.searchQ.AddSearchBody, searchBody(text), convID); err != nil {
		return fmt.Errorf("index conversation %d for search: %w", convID, err)
	}
	return nil
}

// reindexConversation writes a conversation's index row afresh, as one
// whose threads changed wholesale (the target of a merge).
func reindexConversation(ctx context.Context, t *tx, convID int64) error {
	var convs []conversationToIndex
	if err := t.sel(ctx, &convs, t.store.searchQ.ConversationsToIndex, convID-1, 1); err != nil {
		return fmt.Errorf("index conversation %d for search: %w", convID, err)
	}
	if len(convs) == 0 || convs[0].ID != convID {
		return fmt.Errorf("index conversation %d for search: %w", convID, helpdesk.ErrNotFound)
	}
	return replaceSearchRows(ctx, t, convs)
}

func searchBody(text string) string {
	return helpdesk.SearchText(helpdesk.Truncate(text, maxIndexedMessage))
}

// indexBatch is how many conversations a rebuild indexes per transaction.
const indexBatch = 2000

// IndexSearch rebuilds the index rows of every conversation, a batch per
// transaction, and returns how many it indexed: for conversations
// written around the store (the benchmark's seed).
func (s *Store) IndexSearch(ctx context.Context) (int, error) {
	total := 0
	var after int64
	for {
		n, last, err := s.indexSearchBatch(ctx, after, false)
		if err != nil || n < indexBatch {
			return total + n, err
		}
		total += n
		after = last
	}
}

// finishSearchReindex runs the rebuild a migration asked for, from where
// an interrupted one stopped, and marks it done; without one (every
// start after it) it only reads that there is none.
func (s *Store) finishSearchReindex(ctx context.Context) error {
	for {
		n, _, err := s.indexSearchBatch(ctx, 0, true)
		if err != nil {
			return err
		}
		if n < indexBatch {
			return nil
		}
	}
}

// indexSearchBatch rebuilds the rows of the indexBatch conversations
// after id after, in one transaction. A tracked batch starts where the
// migration's rebuild got to (with no rebuild asked for it does nothing)
// and records how far it got.
func (s *Store) indexSearchBatch(ctx context.Context, after int64, tracked bool) (n int, last int64, err error) {
	q := &s.searchQ
	err = s.inTx(ctx, func(t *tx) error {
		if tracked {
			err := t.get(ctx, &after, q.ReindexProgress)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read search rebuild progress: %w", err)
			}
		}
		var convs []conversationToIndex
		if err := t.sel(ctx, &convs, q.ConversationsToIndex, after, indexBatch); err != nil {
			return fmt.Errorf("index search: %w", err)
		}
		if n = len(convs); n > 0 {
			last = convs[n-1].ID
			if err := replaceSearchRows(ctx, t, convs); err != nil {
				return err
			}
		}
		if tracked {
			return recordReindexProgress(ctx, t, n, last)
		}
		return nil
	})
	return n, last, err
}

// recordReindexProgress notes that a tracked rebuild got to conversation
// last, or, after a batch short of indexBatch, that it is done.
func recordReindexProgress(ctx context.Context, t *tx, n int, last int64) error {
	var err error
	if n < indexBatch {
		_, err = t.exec(ctx, t.store.searchQ.FinishReindex)
	} else {
		_, err = t.exec(ctx, t.store.searchQ.SaveReindexProgress, last)
	}
	if err != nil {
		return fmt.Errorf("record search rebuild progress: %w", err)
	}
	return nil
}

type conversationToIndex struct {
	ID            int64  `db:"id"`
	Subject       string `db:"subject"`
	CustomerName  string `db:"customer_name"`
	CustomerEmail string `db:"customer_email"`
}

// replaceSearchRows writes the index rows of convs (in id order) afresh
// from their threads.
func replaceSearchRows(ctx context.Context, t *tx, convs []conversationToIndex) error {
	q := &t.store.searchQ
	first, last := convs[0].ID, convs[len(convs)-1].ID
	var bodies []struct {
		ConversationID int64  `db:"conversation_id"`
		BodyText       string `db:"body_text"`
	}
	if err := t.sel(ctx, &bodies, q.ThreadBodies, first, last); err != nil {
		return fmt.Errorf("index search: %w", err)
	}
	text := map[int64]*strings.Builder{}
	for _, b := range bodies {
		w := text[b.ConversationID]
		if w == nil {
			w = &strings.Builder{}
			text[b.ConversationID] = w
		}
		if w.Len() < 100_000 {
			w.WriteString(searchBody(b.BodyText))
			w.WriteByte(' ')
		}
	}
	if _, err := t.exec(ctx, q.DeleteSearch, first, last); err != nil {
		return fmt.Errorf("index search: %w", err)
	}
	for _, c := range convs {
		body := ""
		if w := text[c.ID]; w != nil {
			body = w.String()
		}
		if err := t.insertNow(ctx, insertSearch, []any{c.ID, helpdesk.SearchText(c.Subject),
			helpdesk.SearchText(c.CustomerName + " " + c.CustomerEmail), body}); err != nil {
			return err
		}
	}
	return nil
}
