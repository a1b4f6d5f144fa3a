package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// sqlite is the SQLite dialect: the embedded default.
type sqlite struct{ path string }

func (sqlite) Name() string { return "sqlite" }

// newSQLite reads "sqlite:PATH" and creates PATH's directory.
func newSQLite(databaseURL string) (sqlite, error) {
	path := strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite:"), "//")
	if path == "" {
		return sqlite{}, errors.New("HELPDESK_DATABASE_URL: sqlite: needs a file path, e.g. sqlite:./data/helpdesk.db")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return sqlite{}, fmt.Errorf("create database directory: %w", err)
	}
	return sqlite{path: path}, nil
}

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

func (s sqlite) open(ctx context.Context) (*sqlx.DB, error) {
	if err := s.create(ctx); err != nil {
		return nil, err
	}
	if err := s.restrictModes(); err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range sqlitePragmas {
		q.Add("_pragma", p)
	}
	// Writers take the lock at BEGIN, so two writers wait for each
	// other instead of failing with SQLITE_BUSY mid-transaction.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+s.path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// sqlx picks the placeholder style by a driver name it knows.
	sdb := sqlx.NewDb(db, "sqlite3")
	sdb.SetMaxOpenConns(8)
	sdb.SetMaxIdleConns(8) // not the default 2: a new connection sets every pragma again
	return sdb, nil
}

// create creates the database file with sqlitePageSize pages if it does not
// exist yet. The page size must be set before anything is written, WAL mode
// included, and the driver sets the DSN's pragmas in alphabetical order
// (journal_mode before page_size). The file is made readable by its owner
// only; SQLite gives the -wal and -shm files the database file's mode.
func (s sqlite) create(ctx context.Context) error {
	if _, err := os.Stat(s.path); !errors.Is(err, os.ErrNotExist) {
		return nil // there, or not ours to create (the open reports why)
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create database: %w", err)
	}
	if err == nil {
		f.Close()
	}
	db, err := sql.Open("sqlite", "file:"+s.path)
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

// restrictModes makes a database that earlier versions created readable
// by others (0644) its owner's only, with its -wal and -shm files: they
// hold the stored mail, password hashes and encrypted mailbox passwords.
func (s sqlite) restrictModes() error {
	for _, p := range []string{s.path, s.path + "-wal", s.path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("database file mode: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("database file mode: %w", err)
			}
		}
	}
	return nil
}

// listArg passes the list as a JSON array for json_each.
func (sqlite) listArg(values any) (any, error) {
	b, err := json.Marshal(values)
	if err != nil {
		return nil, fmt.Errorf("encode list: %w", err)
	}
	return string(b), nil
}

// nextID counts on from the table's largest id: the transaction holds
// SQLite's write lock from BEGIN, so nobody else inserts meanwhile.
func (sqlite) nextID(ctx context.Context, t *tx, table string) (int64, error) {
	r := t.fetch.idRange(table)
	if r.taken == 0 {
		largest := map[string]*sqlx.Stmt{"threads": t.q().MaxThreadID, "raw_messages": t.q().MaxRawMessageID}[table]
		if err := t.get(ctx, &r.last, largest); err != nil {
			return 0, fmt.Errorf("largest id of %s: %w", table, err)
		}
	}
	r.taken++
	r.last++
	return r.last, nil
}

// insertRows writes one prepared insert per row: SQLite has no round trips
// to save.
func (sqlite) insertRows(ctx context.Context, t *tx, ins *rowInsert, rows [][]any) error {
	for _, row := range rows {
		if err := t.insertNow(ctx, ins, row); err != nil {
			return err
		}
	}
	return nil
}
