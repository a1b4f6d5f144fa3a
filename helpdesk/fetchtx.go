package helpdesk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"
)

// fetchTx is a transaction of the fetcher, begun under a fence. Its first
// statement reads the mailbox and checks the fence; the fence row stays
// locked until commit (PostgreSQL: FOR UPDATE; SQLite: the write lock taken
// at BEGIN), so a newer holder's ClaimFence waits for it and every later
// fetch transaction of the old holder is refused with ErrFenced.
type fetchTx struct {
	tx      *sqlx.Tx
	dialect string
	stmts   *stmtCache
	mailbox mailboxInfo
	// Rows collected for flush, by rank of their insert (rowinsert.go),
	// what reads may find them by, and the ids taken for new rows.
	pending     [][][]any
	pendingKeys map[string]bool
	ids         map[string]*idRange
	// notified caches notifiedUsers for the messages of one batch (a
	// group commit lasts milliseconds; one query per message was a tenth
	// of the ingest's round trips).
	notified map[notifiedKey][]recipient
}

type notifiedKey struct {
	pref     string
	onlyUser int64
}

// notifiedUsers is notifiedUsers of the transaction's mailbox, read once
// per transaction.
func (t *fetchTx) notifiedUsers(ctx context.Context, pref string, onlyUser int64) ([]recipient, error) {
	key := notifiedKey{pref, onlyUser}
	if users, ok := t.notified[key]; ok {
		return users, nil
	}
	users, err := notifiedUsers(ctx, t, t.mailbox.ID, pref, onlyUser)
	if err != nil {
		return nil, err
	}
	if t.notified == nil {
		t.notified = map[notifiedKey][]recipient{}
	}
	t.notified[key] = users
	return users, nil
}

type mailboxInfo struct {
	ID      int64  `db:"id"`
	Name    string `db:"name"`
	Email   string `db:"email"`
	AutoAck bool   `db:"auto_ack"`
}

func (s *Store) beginFetchTx(ctx context.Context, mailboxID, fence int64) (*fetchTx, error) {
	s.stmts.prepareWanted(ctx)
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	t := &fetchTx{tx: tx, dialect: s.dialect, stmts: s.stmts}
	if err := t.lockFence(ctx, s, mailboxID, fence); err != nil {
		tx.Rollback()
		return nil, err
	}
	return t, nil
}

func (t *fetchTx) lockFence(ctx context.Context, s *Store, mailboxID, fence int64) error {
	q := `SELECT m.id, m.name, m.email, m.auto_ack, f.fence FROM mailboxes m
		JOIN mailbox_fences f ON f.mailbox_id = m.id WHERE m.id = ?`
	if s.dialect == "postgres" {
		q += ` FOR UPDATE OF f`
	}
	var row struct {
		mailboxInfo
		Fence int64 `db:"fence"`
	}
	err := t.get(ctx, &row, q, mailboxID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("mailbox %d: %w", mailboxID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("check fence: %w", err)
	}
	if row.Fence != fence && fenceChecked {
		return fmt.Errorf("write with fence %d to mailbox %d (current %d): %w", fence, mailboxID, row.Fence, ErrFenced)
	}
	t.mailbox = row.mailboxInfo
	return nil
}

// inFetchTx runs fn in one fetch transaction, committed when fn returns nil.
func (s *Store) inFetchTx(ctx context.Context, mailboxID, fence int64, fn func(t *fetchTx) error) error {
	t, err := s.beginFetchTx(ctx, mailboxID, fence)
	if err != nil {
		return err
	}
	defer t.tx.Rollback()
	if err := fn(t); err != nil {
		return err
	}
	return t.commit(ctx)
}

// commit writes the collected rows and commits.
func (t *fetchTx) commit(ctx context.Context) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	if err := t.tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// sqlTx runs statements written with ? placeholders in a transaction:
// a fetchTx, whose statements are prepared once, or a plainTx.
type sqlTx interface {
	get(ctx context.Context, dest any, query string, args ...any) error
	sel(ctx context.Context, dest any, query string, args ...any) error
	exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	insert(ctx context.Context, ins *rowInsert, values ...any) error
}

// plainTx is an sqlTx whose statements are prepared on each use.
type plainTx struct{ tx *sqlx.Tx }

func (p plainTx) get(ctx context.Context, dest any, query string, args ...any) error {
	return p.tx.GetContext(ctx, dest, p.tx.Rebind(query), args...)
}

func (p plainTx) sel(ctx context.Context, dest any, query string, args ...any) error {
	return p.tx.SelectContext(ctx, dest, p.tx.Rebind(query), args...)
}

func (p plainTx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return p.tx.ExecContext(ctx, p.tx.Rebind(query), args...)
}

func (t *fetchTx) get(ctx context.Context, dest any, query string, args ...any) error {
	if st := t.stmts.in(ctx, t.tx, query); st != nil {
		return st.GetContext(ctx, dest, args...)
	}
	return plainTx{t.tx}.get(ctx, dest, query, args...)
}

func (t *fetchTx) sel(ctx context.Context, dest any, query string, args ...any) error {
	if st := t.stmts.in(ctx, t.tx, query); st != nil {
		return st.SelectContext(ctx, dest, args...)
	}
	return plainTx{t.tx}.sel(ctx, dest, query, args...)
}

func (t *fetchTx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmts.in(ctx, t.tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return plainTx{t.tx}.exec(ctx, query, args...)
}

// stmtCache keeps one prepared statement per query text of the fetch
// path. database/sql prepares it once on each pool connection and reuses
// it there; without this SQLite parses every statement of every message
// again, which was a quarter of the ingest time. Only constant query texts
// belong here: the cache is never pruned.
//
// A statement is prepared between transactions, never inside one: that
// needs a pool connection of its own, and transactions waiting for the
// fence could hold them all. Until then the query runs unprepared.
type stmtCache struct {
	db     *sqlx.DB
	mu     sync.Mutex
	m      map[string]*sqlx.Stmt
	wanted map[string]bool
}

func newStmtCache(db *sqlx.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sqlx.Stmt{}, wanted: map[string]bool{}}
}

// in returns the prepared statement for query (written with ?
// placeholders) bound to tx, or nil if it is not prepared yet.
func (c *stmtCache) in(ctx context.Context, tx *sqlx.Tx, query string) *sqlx.Stmt {
	c.mu.Lock()
	st, ok := c.m[query]
	if !ok {
		c.wanted[query] = true
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	return tx.StmtxContext(ctx, st)
}

// prepareWanted prepares the queries transactions ran unprepared. A query
// that fails to prepare is tried again after its next use.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.Lock()
	var queries []string
	for q := range c.wanted {
		queries = append(queries, q)
		delete(c.wanted, q)
	}
	c.mu.Unlock()
	for _, q := range queries {
		st, err := c.db.PreparexContext(ctx, c.db.Rebind(q))
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, dup := c.m[q]; dup {
			st.Close() // prepared meanwhile by another transaction's start
		} else {
			c.m[q] = st
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}
