package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
)

// postgres is the PostgreSQL dialect.
type postgres struct{ dsn string }

func (postgres) Name() string { return "postgres" }

// idleTxTimeout ends a transaction that has sat idle this long: PostgreSQL
// closes its session and releases its locks. A fetch transaction holds its
// mailbox's fence row until it commits, so a fetcher stopped mid-commit
// (SIGSTOP, a frozen VM, a debugger) would otherwise keep the next holder's
// ClaimFence waiting, and the mailbox unfetched, until it resumed. No
// transaction of the helpdesk waits on anything but the database, so a
// minute idle means its process is not running. A URL that sets
// idle_in_transaction_session_timeout keeps its own value.
const idleTxTimeout = "1min"

// open opens a pool whose connections end idle transactions after
// idleTxTimeout.
func (p postgres) open(context.Context) (*sqlx.DB, error) {
	cfg, err := pgx.ParseConfig(p.dsn)
	if err != nil {
		return nil, fmt.Errorf("HELPDESK_DATABASE_URL: %w", err)
	}
	var opts []stdlib.OptionOpenDB
	if _, set := cfg.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
		// Set after connecting rather than as a startup parameter, which
		// connection poolers such as PgBouncer refuse.
		opts = append(opts, stdlib.OptionAfterConnect(func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, "SET idle_in_transaction_session_timeout = '"+idleTxTimeout+"'")
			return err
		}))
	}
	db := sqlx.NewDb(stdlib.OpenDB(*cfg, opts...), "pgx")
	db.SetMaxOpenConns(20)
	// database/sql keeps 2 idle connections by default: any burst of more
	// closed the rest after use and connected again (a new server process
	// each time), which a notifier's workers and their claims hit on every
	// batch. Idle ones still go after ConnMaxIdleTime.
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// listArg passes the list as one array parameter ("= ANY(?)"): a 500-value
// IN list was prepared and planned anew on every batch (53 ms a lookup,
// 31 ms as an array).
func (postgres) listArg(values any) (any, error) { return values, nil }

// nextID takes ids from the table's sequence, a few at a time: the more a
// transaction uses, the more it takes at once (at most 64), so a
// one-message commit leaves no gap. Unused ones are gaps, as after any
// rollback.
func (postgres) nextID(ctx context.Context, t *tx, table string) (int64, error) {
	r := t.fetch.idRange(table)
	if len(r.free) == 0 {
		n := min(max(r.taken, 1), 64)
		if err := t.sel(ctx, &r.free, t.q().TakeIDs, table, n); err != nil {
			return 0, fmt.Errorf("take ids of %s: %w", table, err)
		}
		r.taken += n
	}
	id := r.free[0]
	r.free = r.free[1:]
	return id, nil
}

// maxArrayBytes bounds the text and bytes of the rows one statement over
// arrays takes.
const maxArrayBytes = 256 << 10

// insertRows writes a table's collected rows in one statement over arrays
// (about six round trips per message before). Large rows go alone:
// PostgreSQL copies an array parameter whole before it unnests it, which
// made a group of 1 MB mails slower than one statement per mail.
func (postgres) insertRows(ctx context.Context, t *tx, ins *rowInsert, rows [][]any) error {
	for len(rows) > 0 {
		n, size := 1, rowSize(rows[0])
		for n < len(rows) && size+rowSize(rows[n]) <= maxArrayBytes {
			size += rowSize(rows[n])
			n++
		}
		if err := insertArrays(ctx, t, ins, rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

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

// insertArrays inserts rows in one statement over arrays.
func insertArrays(ctx context.Context, t *tx, ins *rowInsert, rows [][]any) error {
	if len(rows) == 1 {
		return t.insertNow(ctx, ins, rows[0])
	}
	columns := make([]any, len(rows[0]))
	for c := range columns {
		column := make([]any, len(rows))
		for r, row := range rows {
			column[r] = row[c]
		}
		columns[c] = column
	}
	if _, err := t.exec(ctx, ins.arrays(t.q()), columns...); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", len(rows), ins.table, err)
	}
	return nil
}
