package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// The full-text index conversation_search holds per conversation its
// subject, customer and customer messages as helpdesk.SearchText: folded
// in Go, so both databases match the same words. A customer message is
// added in its ingest transaction; IndexSearch indexes what is older.

type searchQueries struct {
	UnindexedConversations *sqlx.Stmt `query:"unindexed-conversations"`
	CustomerBodies         *sqlx.Stmt `query:"customer-bodies"`
	InsertSearch           *sqlx.Stmt `query:"insert-search"`
	AddSearchBody          *sqlx.Stmt `query:"add-search-body"`
}

// maxIndexedMessage is how much of one message's text is indexed.
const maxIndexedMessage = 20_000

// indexMessage adds a customer message to the index of its conversation,
// which a new conversation's row starts.
func indexMessage(ctx context.Context, t *tx, conv threadedConversation, msg *helpdesk.IncomingMessage) error {
	body := helpdesk.SearchText(helpdesk.Truncate(msg.Text, maxIndexedMessage))
	var err error
	if conv.created {
		sender := msg.Sender()
		_, err = t.exec(ctx, t.store.searchQ.InsertSearch, conv.ID,
			helpdesk.SearchText(conv.Subject), helpdesk.SearchText(sender.Name+" "+sender.Email), body)
	} else {
		_, err = t.exec(ctx, t.store.searchQ.AddSearchBody, body, conv.ID)
	}
	if err != nil {
		return fmt.Errorf("index conversation %d for search: %w", conv.ID, err)
	}
	return nil
}

// indexBatch is how many conversations IndexSearch indexes per
// transaction.
const indexBatch = 2000

// IndexSearch indexes the conversations the search index does not hold
// yet (those from before it existed), a batch per transaction; Migrate
// runs it. It returns how many it indexed.
func (s *Store) IndexSearch(ctx context.Context) (int, error) {
	total := 0
	var after int64
	for {
		n, last, err := s.indexSearchBatch(ctx, after)
		if err != nil {
			return total, err
		}
		total += n
		if n < indexBatch {
			return total, nil
		}
		after = last
	}
}

func (s *Store) indexSearchBatch(ctx context.Context, after int64) (int, int64, error) {
	var convs []struct {
		ID            int64  `db:"id"`
		Subject       string `db:"subject"`
		CustomerName  string `db:"customer_name"`
		CustomerEmail string `db:"customer_email"`
	}
	if err := s.searchQ.UnindexedConversations.SelectContext(ctx, &convs, after, indexBatch); err != nil {
		return 0, 0, fmt.Errorf("index search: %w", err)
	}
	if len(convs) == 0 {
		return 0, after, nil
	}
	first, last := convs[0].ID, convs[len(convs)-1].ID
	var bodies []struct {
		ConversationID int64  `db:"conversation_id"`
		BodyText       string `db:"body_text"`
	}
	if err := s.searchQ.CustomerBodies.SelectContext(ctx, &bodies, first, last); err != nil {
		return 0, 0, fmt.Errorf("index search: %w", err)
	}
	text := map[int64]*strings.Builder{}
	for _, b := range bodies {
		w := text[b.ConversationID]
		if w == nil {
			w = &strings.Builder{}
			text[b.ConversationID] = w
		}
		if w.Len() < 100_000 {
			w.WriteString(helpdesk.SearchText(helpdesk.Truncate(b.BodyText, maxIndexedMessage)))
			w.WriteByte(' ')
		}
	}
	err := s.inTx(ctx, func(t *tx) error {
		for _, c := range convs {
			body := ""
			if w := text[c.ID]; w != nil {
				body = w.String()
			}
			if _, err := t.exec(ctx, s.searchQ.InsertSearch, c.ID, helpdesk.SearchText(c.Subject),
				helpdesk.SearchText(c.CustomerName+" "+c.CustomerEmail), body); err != nil {
				return fmt.Errorf("index conversation %d for search: %w", c.ID, err)
			}
		}
		return nil
	})
	return len(convs), last, err
}

// highlight marks the searched words in each conversation's subject and
// preview.
func highlight(convs []helpdesk.ConversationSummary, sq *helpdesk.SearchQuery) {
	for i := range convs {
		c := &convs[i]
		c.Highlight = &helpdesk.SearchHighlight{Subject: sq.Highlight(c.Subject), Preview: sq.Highlight(c.Preview)}
	}
}

// searchMatch is the PostgreSQL to_tsquery text of a search's words, its
// spellings alternatives, from: words in the customer (weight B); "" for
// a search of filters only. The words are letters and digits only
// (helpdesk.ParseSearch), so nothing needs quoting.
func (postgres) searchMatch(sq *helpdesk.SearchQuery) string {
	if sq == nil {
		return ""
	}
	var parts []string
	add := func(words []helpdesk.SearchWord, weight string) {
		for _, w := range words {
			suffix := ""
			if w.Prefix || weight != "" {
				suffix = ":"
			}
			if w.Prefix {
				suffix += "*"
			}
			alts := make([]string, len(w.Spellings))
			for i, sp := range w.Spellings {
				alts[i] = sp + suffix + weight
			}
			parts = append(parts, "("+strings.Join(alts, " | ")+")")
		}
	}
	add(sq.Words, "")
	add(sq.FromWords, "B")
	return strings.Join(parts, " & ")
}

// searchMatch is the FTS5 MATCH expression of a search's words, as for
// PostgreSQL; from: words in the people column.
func (sqlite) searchMatch(sq *helpdesk.SearchQuery) string {
	if sq == nil {
		return ""
	}
	var parts []string
	add := func(words []helpdesk.SearchWord, column string) {
		for _, w := range words {
			star := ""
			if w.Prefix {
				star = "*"
			}
			alts := make([]string, len(w.Spellings))
			for i, sp := range w.Spellings {
				alts[i] = column + `"` + sp + `"` + star
			}
			parts = append(parts, "("+strings.Join(alts, " OR ")+")")
		}
	}
	add(sq.Words, "")
	add(sq.FromWords, "people : ")
	return strings.Join(parts, " AND ")
}
