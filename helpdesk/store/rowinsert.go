package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// A fetch transaction does not insert a message's rows one statement at a
// time: it collects them and writes each table's rows at once, before a read
// that could see them and at commit. On PostgreSQL a table's rows of a group
// commit go in one statement over arrays, where there were about six round
// trips per message; SQLite, which has no round trips to save, gets one
// prepared insert per row. Ids are taken beforehand (nextID), so nothing
// waits for an insert to learn an id.
//
// A read of the fetch path that could find a collected row names what it
// looks up (pendingKey) and gets the rows written first (flushFor): within
// one group, a second copy of a message, a reply to a message or a [#N]
// token of a conversation started earlier in the group find the earlier
// rows as if they had been inserted at once. Each insert says what its rows
// can be found by (findBy).

// rowInsert is a single-row INSERT whose rows can be collected.
type rowInsert struct {
	rank     int // flush order: after the tables it references
	table    string
	one      string // the single-row statement, ? placeholders
	postgres string // the same over arrays: INSERT ... SELECT FROM unnest($1::type[], ...)
	// findBy is what reads of the fetch path may find a row by.
	findBy func(row []any) []string
}

// Declared in flush order: rows reference rows of the inserts above them.
var (
	insertRaw = newRowInsert("raw_messages", "",
		"id bigint", "size bigint", "gzipped bytea")
	insertThread = newRowInsert("threads", "",
		"id bigint", "conversation_id bigint", "kind text", "message_id text", "in_reply_to text",
		"from_email text", "from_name text", "to_addrs text", "cc_addrs text", "subject text",
		"body_text text", "body_html text", "auto_reply bool", "raw_id bigint", "created_at timestamptz").
		foundBy(func(row []any) []string { return messageIDLookups(row[3].(string)) })
	insertAttachment = newRowInsert("attachments", "",
		"thread_id bigint", "filename text", "content_type text", "content_id text", "inline bool",
		"size bigint", "data bytea")
	insertParticipant = newRowInsert("conversation_participants", "ON CONFLICT DO NOTHING",
		"conversation_id bigint", "email text").
		foundBy(func(row []any) []string { return []string{participantLookup(row[0].(int64), row[1].(string))} })
	insertQuarantine = newRowInsert("quarantine", "",
		"mailbox_id bigint", "folder text", "uidvalidity bigint", "uid bigint", "reason text", "size bigint",
		"raw_complete bool", "raw_id bigint", "status text", "created_at timestamptz", "updated_at timestamptz")
	insertLedger = newRowInsert("fetch_ledger", `ON CONFLICT (mailbox_id, folder, uidvalidity, uid) DO UPDATE SET
			dedup_key = excluded.dedup_key, outcome = excluded.outcome, thread_id = excluded.thread_id, fence = excluded.fence`,
		"mailbox_id bigint", "folder text", "uidvalidity bigint", "uid bigint", "dedup_key text", "outcome text",
		"thread_id bigint", "fence bigint", "created_at timestamptz").
		foundBy(func(row []any) []string {
			keys := []string{uidLookup(row[1].(string), row[2].(uint32), row[3].(uint32))}
			if row[5].(helpdesk.Outcome) == helpdesk.OutcomeNew {
				keys = append(keys, dedupLookup(row[4].(string)))
			}
			return keys
		})
	insertOutbox = newRowInsert("outbox", "ON CONFLICT (dedup_key) DO NOTHING",
		"dedup_key text", "kind text", "mailbox_id bigint", "thread_id bigint", "from_addr text", "to_addrs text",
		"subject text", "body_text text", "headers text", "message_id text", "status text", "attempts bigint",
		"next_attempt_at timestamptz", "created_at timestamptz").
		foundBy(func(row []any) []string { return messageIDLookups(row[9].(string)) })
)

// What reads of the fetch path look collected rows up by.
func uidLookup(folder string, uidValidity, uid uint32) string {
	return pendingKey("uid", folder, uidValidity, uid)
}
func dedupLookup(key string) string { return pendingKey("dedup", key) }
func participantLookup(conv int64, email string) string {
	return pendingKey("participant", conv, email)
}
func messageIDLookups(ids ...string) []string {
	var keys []string
	for _, id := range ids {
		if id != "" {
			keys = append(keys, pendingKey("message-id", id))
		}
	}
	return keys
}

var rowInserts []*rowInsert

// newRowInsert declares an insert into table of columns, each "name type"
// with its PostgreSQL type; suffix is its ON CONFLICT clause.
func newRowInsert(table, suffix string, columns ...string) *rowInsert {
	names := make([]string, len(columns))
	marks := make([]string, len(columns))
	arrays := make([]string, len(columns))
	for i, c := range columns {
		name, typ, _ := strings.Cut(c, " ")
		names[i], marks[i], arrays[i] = name, "?", fmt.Sprintf("$%d::%s[]", i+1, typ)
	}
	head := "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ") "
	ins := &rowInsert{
		rank:     len(rowInserts),
		table:    table,
		one:      head + "VALUES (" + strings.Join(marks, ", ") + ") " + suffix,
		postgres: head + "SELECT * FROM unnest(" + strings.Join(arrays, ", ") + ") " + suffix,
	}
	rowInserts = append(rowInserts, ins)
	return ins
}

func (ins *rowInsert) foundBy(f func(row []any) []string) *rowInsert {
	ins.findBy = f
	return ins
}

// insert inserts one row at once.
func (p plainTx) insert(ctx context.Context, ins *rowInsert, values ...any) error {
	if _, err := p.exec(ctx, ins.one, values...); err != nil {
		return fmt.Errorf("insert into %s: %w", ins.table, err)
	}
	return nil
}

// insert collects a row (sqlTx); the fetch path calls collect.
func (t *fetchTx) insert(_ context.Context, ins *rowInsert, values ...any) error {
	t.collect(ins, values...)
	return nil
}

// collect adds a row to be written by flush.
func (t *fetchTx) collect(ins *rowInsert, values ...any) {
	if t.pending == nil {
		t.pending = make([][][]any, len(rowInserts))
		t.pendingKeys = map[string]bool{}
	}
	t.pending[ins.rank] = append(t.pending[ins.rank], values)
	if ins.findBy != nil {
		for _, k := range ins.findBy(values) {
			t.pendingKeys[k] = true
		}
	}
}

// pendingKey names a lookup that can find a collected row, e.g.
// pendingKey("message-id", id). Equal lookups give equal keys; two that
// happen to collide only cost a needless flush.
func pendingKey(kind string, parts ...any) string {
	return kind + ":" + fmt.Sprint(parts...)
}

// flushFor writes the collected rows if a read by any of keys could find
// one of them.
func (t *fetchTx) flushFor(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if t.pendingKeys[k] {
			return t.flush(ctx)
		}
	}
	return nil
}

// flush writes the collected rows, each table's at once, in rank order.
func (t *fetchTx) flush(ctx context.Context) error {
	for rank, rows := range t.pending {
		if len(rows) == 0 {
			continue
		}
		if err := t.insertRows(ctx, rowInserts[rank], rows); err != nil {
			return err
		}
		t.pending[rank] = rows[:0]
	}
	clear(t.pendingKeys)
	return nil
}

func (t *fetchTx) insertRows(ctx context.Context, ins *rowInsert, rows [][]any) error {
	if t.dialect != "postgres" {
		for _, row := range rows {
			if err := t.insertOne(ctx, ins, row); err != nil {
				return err
			}
		}
		return nil
	}
	// Large rows go alone: PostgreSQL copies an array parameter whole
	// before it unnests it, which made a group of 1 MB mails slower than
	// one statement per mail.
	for len(rows) > 0 {
		n, size := 1, rowSize(rows[0])
		for n < len(rows) && size+rowSize(rows[n]) <= maxArrayBytes {
			size += rowSize(rows[n])
			n++
		}
		if err := t.insertMany(ctx, ins, rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// maxArrayBytes bounds the text and bytes of the rows one statement over
// arrays takes.
const maxArrayBytes = 256 << 10

func rowSize(row []any) int {
	n := 0
	for _, v := range row {
		switch v := v.(type) {
		case string:
			n += len(v)
		case []byte:
			n += len(v)
		}
	}
	return n
}

func (t *fetchTx) insertOne(ctx context.Context, ins *rowInsert, row []any) error {
	if _, err := t.exec(ctx, ins.one, row...); err != nil {
		return fmt.Errorf("insert into %s: %w", ins.table, err)
	}
	return nil
}

// insertMany inserts rows in one PostgreSQL statement over arrays.
func (t *fetchTx) insertMany(ctx context.Context, ins *rowInsert, rows [][]any) error {
	if len(rows) == 1 {
		return t.insertOne(ctx, ins, rows[0])
	}
	columns := make([]any, len(rows[0]))
	for c := range columns {
		column := make([]any, len(rows))
		for r, row := range rows {
			column[r] = row[c]
		}
		columns[c] = column
	}
	// Not through the statement cache: pgx prepares and keeps this
	// constant text per connection by itself.
	if _, err := t.tx.ExecContext(ctx, ins.postgres, columns...); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", len(rows), ins.table, err)
	}
	return nil
}

// nextID is the id the next row of table (a constant name) will have. On
// PostgreSQL it comes from the table's sequence, a few at a time (unused
// ones are gaps, as after any rollback); on SQLite, whose write lock is held
// for the whole transaction, it is counted on from the largest id.
func (t *fetchTx) nextID(ctx context.Context, table string) (int64, error) {
	if t.ids == nil {
		t.ids = map[string]*idRange{}
	}
	r := t.ids[table]
	if r == nil {
		r = &idRange{}
		if t.dialect != "postgres" {
			if err := t.get(ctx, &r.last, `SELECT COALESCE(MAX(id), 0) FROM `+table); err != nil {
				return 0, fmt.Errorf("largest id of %s: %w", table, err)
			}
		}
		t.ids[table] = r
	}
	if t.dialect != "postgres" {
		r.last++
		return r.last, nil
	}
	if len(r.free) == 0 {
		// The more a transaction uses, the more it takes at once (at most
		// 64), so a one-message commit leaves no gap.
		n := min(max(r.taken, 1), 64)
		if err := t.sel(ctx, &r.free, `SELECT nextval(pg_get_serial_sequence('`+table+`', 'id')) FROM generate_series(1, ?)`, n); err != nil {
			return 0, fmt.Errorf("take ids of %s: %w", table, err)
		}
		r.taken += n
	}
	id := r.free[0]
	r.free = r.free[1:]
	return id, nil
}

// idRange is what a transaction knows of a table's next ids.
type idRange struct {
	last  int64   // SQLite: the last id given out
	free  []int64 // PostgreSQL: taken from the sequence, not used yet
	taken int
}
