// Package migrations holds the SQL schema versions for PostgreSQL and SQLite,
// embedded in the binary, and applies them in order.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// ErrOutdated means the database schema is older than this binary.
var ErrOutdated = errors.New("database schema is out of date: run `helpdesk migrate`")

type migration struct {
	version int
	name    string
	sql     string
}

// list returns the migrations for a dialect ("postgres" or "sqlite"), oldest first.
func list(dialect string) ([]migration, error) {
	entries, err := fs.ReadDir(files, dialect)
	if err != nil {
		return nil, fmt.Errorf("read migrations for %s: %w", dialect, err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and '_'", e.Name())
		}
		body, err := files.ReadFile(path.Join(dialect, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// Latest is the schema version this binary expects.
func Latest(dialect string) (int, error) {
	ms, err := list(dialect)
	if err != nil || len(ms) == 0 {
		return 0, err
	}
	return ms[len(ms)-1].version, nil
}

// Apply runs every migration newer than the database's version, each in its
// own transaction. Running it twice, or from two processes, is harmless.
func Apply(ctx context.Context, db *sqlx.DB, dialect string) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	ms, err := list(dialect)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := applyOne(ctx, db, dialect, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

func applyOne(ctx context.Context, db *sqlx.DB, dialect string, m migration) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if dialect == "postgres" {
		// Serialise concurrent `migrate` runs.
		if _, err := tx.ExecContext(ctx, `LOCK TABLE schema_migrations IN EXCLUSIVE MODE`); err != nil {
			return err
		}
	}
	var n int
	if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), m.version, time.Now().UTC()); err != nil {
		return err
	}
	return tx.Commit()
}

// Check returns ErrOutdated unless every migration has been applied.
func Check(ctx context.Context, db *sqlx.DB, dialect string) error {
	latest, err := Latest(dialect)
	if err != nil {
		return err
	}
	var current int
	err = db.GetContext(ctx, &current, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`)
	if err != nil || current < latest {
		return fmt.Errorf("%w (database at version %d, binary needs %d)", ErrOutdated, current, latest)
	}
	return nil
}
