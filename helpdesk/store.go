// Package helpdesk is the domain and its storage: mailboxes, customers,
// conversations, threads, tags, users, the fetch ledger and the outbox.
package helpdesk

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/helpdesk/helpdesk/migrations"
)

// Store is the database of the helpdesk. It is safe for concurrent use.
type Store struct {
	db      *sqlx.DB
	dialect string // "postgres" or "sqlite"
	secrets *Secrets
	stmts   *stmtCache // prepared statements of the fetch path
}

// Options configures Open.
type Options struct {
	Secrets *Secrets
}

// Open connects to "postgres://..." or "sqlite:PATH" (SQLite with WAL and a
// busy timeout, its directory created). It does not migrate.
func Open(ctx context.Context, databaseURL string, opts Options) (*Store, error) {
	driver, dsn, dialect, err := driverFor(databaseURL)
	if err != nil {
		return nil, err
	}
	if dialect == "sqlite" {
		if err := createSQLite(ctx, dsn); err != nil {
			return nil, err
		}
	}
	sqlDB, err := openSQL(driver, dsn)
	if err != nil {
		return nil, err
	}
	// sqlx needs a driver name it knows to pick the placeholder style.
	bindName := map[string]string{"postgres": "pgx", "sqlite": "sqlite3"}[dialect]
	db := sqlx.NewDb(sqlDB, bindName)
	if dialect == "sqlite" {
		db.SetMaxOpenConns(8)
	} else {
		db.SetMaxOpenConns(20)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return &Store{db: db, dialect: dialect, secrets: opts.Secrets, stmts: newStmtCache(db)}, nil
}

func driverFor(databaseURL string) (driver, dsn, dialect string, err error) {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return "pgx", databaseURL, "postgres", nil
	case strings.HasPrefix(databaseURL, "sqlite:"):
		path := strings.TrimPrefix(databaseURL, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return "", "", "", errors.New("HELPDESK_DATABASE_URL: sqlite: needs a file path, e.g. sqlite:./data/helpdesk.db")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return "", "", "", fmt.Errorf("create database directory: %w", err)
		}
		q := url.Values{}
		for _, p := range sqlitePragmas {
			q.Add("_pragma", p)
		}
		// Writers take the lock at BEGIN, so two writers wait for each
		// other instead of failing with SQLITE_BUSY mid-transaction.
		q.Set("_txlock", "immediate")
		return "sqlite", "file:" + path + "?" + q.Encode(), "sqlite", nil
	default:
		return "", "", "", fmt.Errorf("HELPDESK_DATABASE_URL %q: want postgres://... or sqlite:PATH", databaseURL)
	}
}

// Migrate applies every pending schema migration.
func (s *Store) Migrate(ctx context.Context) error {
	return migrations.Apply(ctx, s.db, s.dialect)
}

// CheckSchema fails with migrations.ErrOutdated on an old schema.
func (s *Store) CheckSchema(ctx context.Context) error {
	return migrations.Check(ctx, s.db, s.dialect)
}

// Ping checks the database is reachable (for /readyz).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Dialect is "postgres" or "sqlite".
func (s *Store) Dialect() string { return s.dialect }

// Close closes the database pool.
func (s *Store) Close() error {
	s.stmts.close()
	return s.db.Close()
}

// inTx runs fn in one transaction, committed when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// now is the one clock of stored timestamps: UTC, so that SQLite's text
// timestamps compare in time order.
func now() time.Time { return time.Now().UTC() }
