package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
)

// sqlitePragmas are set on every SQLite connection.
var sqlitePragmas = []string{
	"busy_timeout(30000)",
	"journal_mode(WAL)",
	"foreign_keys(1)",
	"synchronous(NORMAL)",
	// The commit that takes the WAL past this many pages (128 MB) copies
	// it into the database. Every page is copied once per checkpoint, so
	// rare checkpoints write hot index pages once instead of many times;
	// at the default 1,000 pages they took a quarter of the ingest time.
	"wal_autocheckpoint(8192)",
	"journal_size_limit(67108864)", // then the WAL file shrinks to 64 MB
}

// sqlitePageSize is the page size of a new SQLite database. Against the
// default 4 KB it quarters the WAL frames (each its own write) that large
// mail takes.
const sqlitePageSize = 16384

// createSQLite creates the database file of dsn with sqlitePageSize pages
// if it does not exist yet. The page size must be set before anything is
// written, WAL mode included, and the driver sets the DSN's pragmas in
// alphabetical order (journal_mode before page_size).
func createSQLite(ctx context.Context, dsn string) error {
	path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return nil // there, or not ours to create (the open reports why)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	defer db.Close()
	for _, pragma := range []string{fmt.Sprintf("PRAGMA page_size = %d", sqlitePageSize), "PRAGMA journal_mode = WAL"} {
		if _, err := db.ExecContext(ctx, pragma); err != nil {
			return fmt.Errorf("create database: %s: %w", pragma, err)
		}
	}
	return nil
}
