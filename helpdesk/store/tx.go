package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// tx is the one kind of transaction of the store. Its statements are the
// prepared named queries, bound to the transaction. A fetch transaction
// (fetchtx.go) is a tx that first checked its mailbox's fence, and that
// collects the rows it inserts to write them per table (rowinsert.go).
type tx struct {
	sql   *sqlx.Tx
	store *Store
	fetch *fetchScope // nil outside the fetch path
	// events are the live events to write before the commit (events.go).
	events []helpdesk.Event
}

// inTx runs fn in one transaction, committed when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(t *tx) error) error {
	t, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer t.rollback()
	if err := fn(t); err != nil {
		return err
	}
	return t.commit(ctx)
}

func (s *Store) begin(ctx context.Context) (*tx, error) {
	sqlTx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	return &tx{sql: sqlTx, store: s}, nil
}

// commit writes the live events and the rows a fetch transaction
// collected (its events among them), then commits.
func (t *tx) commit(ctx context.Context) error {
	if err := t.writeEvents(ctx); err != nil {
		return err
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	if err := t.sql.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if len(t.events) > 0 {
		t.store.eventSignals.wake()
	}
	return nil
}

// rollback drops the transaction; after commit it does nothing.
func (t *tx) rollback() { t.sql.Rollback() }

// q is the fetch path's prepared queries.
func (t *tx) q() *fetchQueries { return &t.store.fetchQ }

// stmt is a prepared query bound to the transaction. database/sql
// prepares it once on each pool connection and reuses it there.
func (t *tx) stmt(ctx context.Context, st *sqlx.Stmt) *sqlx.Stmt { return t.sql.StmtxContext(ctx, st) }

func (t *tx) get(ctx context.Context, dest any, st *sqlx.Stmt, args ...any) error {
	return t.stmt(ctx, st).GetContext(ctx, dest, args...)
}

func (t *tx) sel(ctx context.Context, dest any, st *sqlx.Stmt, args ...any) error {
	return t.stmt(ctx, st).SelectContext(ctx, dest, args...)
}

func (t *tx) exec(ctx context.Context, st *sqlx.Stmt, args ...any) (sql.Result, error) {
	return t.stmt(ctx, st).ExecContext(ctx, args...)
}
