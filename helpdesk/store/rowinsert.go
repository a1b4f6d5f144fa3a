package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// A fetch transaction does not insert a message's rows one statement at a
// time: it collects them and writes each table's rows at once, before a read
// that could see them and at commit. On PostgreSQL a table's rows of a group
// commit go in one statement over arrays, where there were about six round
// trips per message; SQLite, which has no round trips to save, gets one
// prepared insert per row (dialect.insertRows). Ids are taken beforehand
// (dialect.nextID), so nothing waits for an insert to learn an id.
//
// A read of the fetch path that could find a collected row names what it
// looks up (pendingKey) and gets the rows written first (flushFor): within
// one group, a second copy of a message, a reply to a message or a [#N]
// token of a conversation started earlier in the group find the earlier
// rows as if they had been inserted at once. Each insert says what its rows
// can be found by (findBy).

// rowInsert is an INSERT whose rows can be collected: one row
// (queries/fetch.sql) or many over arrays (queries/postgres/fetch.sql).
type rowInsert struct {
	table  string
	one    func(q *fetchQueries) *sqlx.Stmt
	arrays func(q *fetchQueries) *sqlx.Stmt // PostgreSQL only
	// findBy is what reads of the fetch path may find a row by.
	findBy func(row []any) []string
}

// rowInserts in flush order: rows reference rows of the inserts above them.
var rowInserts = []*rowInsert{insertRaw, insertThread, insertAttachment, insertParticipant, insertQuarantine, insertLedger, insertOutbox,
	insertSearch, insertEvent}

var (
	insertRaw = &rowInsert{table: "raw_messages",
		one:    func(q *fetchQueries) *sqlx.Stmt { return q.InsertRawMessage },
		arrays: func(q *fetchQueries) *sqlx.Stmt { return q.InsertRawMessages }}
	insertThread = &rowInsert{table: "threads",
		one:    func(q *fetchQueries) *sqlx.Stmt { return q.InsertThread },
		arrays: func(q *fetchQueries) *sqlx.Stmt { return q.InsertThreads },
		findBy: func(row []any) []string { return messageIDLookups(row[3].(string)) }}
	insertAttachment = &rowInsert{table: "attachments",
		one:    func(q *fetchQueries) *sqlx.Stmt { return q.InsertAttachment },
		arrays: func(q *fetchQueries) *sqlx.Stmt { return q.InsertAttachments }}
	insertParticipant = &rowInsert{table: "conversation_participants",
		one:    func(q *fetchQueries) *sqlx.Stmt { return q.InsertParticipant },
		arrays: func(q *fetchQueries) *sqlx.Stmt { return q.InsertParticipants },
		findBy: func(row []any) []string { return []string{participantLookup(row[0].(int64), row[1].(string))} }}
	insertQuarantine = &rowInsert{table: "quarantine",
		one:    func(q *fetchQueries) *sqlx.Stmt { return q.InsertQuarantine },
		arrays: func(q *fetchQueries) *sqlx.Stmt { return q.InsertQuarantines }}
	insertLedger = &rowInsert{table: "fetch_ledger",
		one:    func(q *fetchQueries) *sqlx.Stmt { return q.InsertLedger },
		arrays: func(q *fetchQueries) *sqlx.Stmt { return q.InsertLedgers },
		findBy: func(row []any) []string {
			keys := []string{uidLookup(row[1].(string), row[2].(uint32), row[3].(uint32))}
			if row[5].(helpdesk.Outcome) == helpdesk.OutcomeNew {
				keys = append(keys, dedupLookup(row[4].(string)))
			}
			return keys
		}}
	insertOutbox = &rowInsert{table: "outbox",
		one:    func(q *fetchQueries) *sqlx.Stmt { return q.InsertOutbox },
		arrays: func(q *fetchQueries) *sqlx.Stmt { return q.InsertOutboxes },
		findBy: func(row []any) []string { return messageIDLookups(row[9].(string)) }}
	// A new conversation's search row, which a later message of the group
	// that threads into it updates (indexThread).
	insertSearch = &rowInsert{table: "conversation_search",
		one:    func(q *fetchQueries) *sqlx.Stmt { return q.InsertSearch },
		arrays: func(q *fetchQueries) *sqlx.Stmt { return q.InsertSearches },
		findBy: func(row []any) []string { return []string{searchLookup(row[0].(int64))} }}
	// Live events, in the order they were added: PostgreSQL numbers them in
	// insert order at commit (writeEvents).
	insertEvent = &rowInsert{table: "events",
		one:    func(q *fetchQueries) *sqlx.Stmt { return q.InsertEvent },
		arrays: func(q *fetchQueries) *sqlx.Stmt { return q.InsertEvents }}
)

// What reads of the fetch path look collected rows up by.
func uidLookup(folder string, uidValidity, uid uint32) string {
	return pendingKey("uid", folder, uidValidity, uid)
}
func dedupLookup(key string) string { return pendingKey("dedup", key) }
func participantLookup(conv int64, email string) string {
	return pendingKey("participant", conv, email)
}
func searchLookup(conv int64) string { return pendingKey("search", conv) }
func messageIDLookups(ids ...string) []string {
	var keys []string
	for _, id := range ids {
		if id != "" {
			keys = append(keys, pendingKey("message-id", id))
		}
	}
	return keys
}

// pendingKey names a lookup that can find a collected row, e.g.
// pendingKey("message-id", id). Equal lookups give equal keys; two that
// happen to collide only cost a needless flush.
func pendingKey(kind string, parts ...any) string {
	return kind + ":" + fmt.Sprint(parts...)
}

// insert adds a row: a fetch transaction collects it for flush, any other
// writes it at once.
func (t *tx) insert(ctx context.Context, ins *rowInsert, values ...any) error {
	if t.fetch == nil {
		return t.insertNow(ctx, ins, values)
	}
	t.collect(ins, values...)
	return nil
}

// insertNow inserts one row at once.
func (t *tx) insertNow(ctx context.Context, ins *rowInsert, row []any) error {
	if _, err := t.exec(ctx, ins.one(t.q()), row...); err != nil {
		return fmt.Errorf("insert into %s: %w", ins.table, err)
	}
	return nil
}

// collect adds a row to be written by flush.
func (t *tx) collect(ins *rowInsert, values ...any) {
	f := t.fetch
	if f.pending == nil {
		f.pending = map[*rowInsert][][]any{}
		f.pendingKeys = map[string]bool{}
	}
	f.pending[ins] = append(f.pending[ins], values)
	if ins.findBy != nil {
		for _, k := range ins.findBy(values) {
			f.pendingKeys[k] = true
		}
	}
}

// flushFor writes the collected rows if a read by any of keys could find
// one of them.
func (t *tx) flushFor(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if t.fetch.pendingKeys[k] {
			return t.flush(ctx)
		}
	}
	return nil
}

// flush writes the collected rows, each table's at once, in the order of
// rowInserts.
func (t *tx) flush(ctx context.Context) error {
	if t.fetch == nil {
		return nil
	}
	for _, ins := range rowInserts {
		rows := t.fetch.pending[ins]
		if len(rows) == 0 {
			continue
		}
		if err := t.store.dialect.insertRows(ctx, t, ins, rows); err != nil {
			return err
		}
		t.fetch.pending[ins] = rows[:0]
	}
	clear(t.fetch.pendingKeys)
	return nil
}

// nextID is the id the next row of table (a constant name) will have.
func (t *tx) nextID(ctx context.Context, table string) (int64, error) {
	return t.store.dialect.nextID(ctx, t, table)
}

// idRange is what a transaction knows of a table's next ids.
type idRange struct {
	last  int64   // SQLite: the last id given out
	free  []int64 // PostgreSQL: taken from the sequence, not used yet
	taken int
}

func (f *fetchScope) idRange(table string) *idRange {
	if f.ids == nil {
		f.ids = map[string]*idRange{}
	}
	r := f.ids[table]
	if r == nil {
		r = &idRange{}
		f.ids[table] = r
	}
	return r
}
