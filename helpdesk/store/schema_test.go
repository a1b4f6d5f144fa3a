package store_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

func sqlitePragma(t *testing.T, path, pragma string) string {
	t.Helper()
	return sqliteQuery(t, path, "PRAGMA "+pragma)
}

// sqliteQuery reads one value from the database file at path.
func sqliteQuery(t *testing.T, path, query string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow(query).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenCreatesSQLiteWithLargePagesInWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	teststore.OpenURL(t, "sqlite:"+path, store.Options{}) // migrated
	if got := sqlitePragma(t, path, "page_size"); got != "16384" {
		t.Errorf("page_size = %s, want 16384", got)
	}
	if got := sqlitePragma(t, path, "journal_mode"); got != "wal" {
		t.Errorf("journal_mode = %s, want wal", got)
	}
}

func TestOpenKeepsAnExistingSQLiteDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('data')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	teststore.OpenURL(t, "sqlite:"+path, store.Options{}) // migrated
	if got := sqlitePragma(t, path, "page_size"); got != "4096" {
		t.Errorf("page_size = %s, want the existing 4096", got)
	}
	if got := sqliteQuery(t, path, "SELECT v FROM kept"); got != "data" {
		t.Errorf("kept = %q", got)
	}
}

func TestPostgresCompressesMailTextWithLZ4(t *testing.T) {
	url := teststore.URL(t, "postgres")
	teststore.OpenURL(t, url, store.Options{}) // migrated
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var compression, storage string
	for _, col := range [][2]string{{"threads", "body_text"}, {"sanitized_html", "html"}} {
		if err := db.QueryRow(`SELECT attcompression, attstorage FROM pg_attribute
			WHERE attrelid = $1::regclass AND attname = $2`, col[0], col[1]).Scan(&compression, &storage); err != nil {
			t.Fatal(err)
		}
		if compression != "l" || storage != "x" {
			t.Errorf("%s.%s: compression %q storage %q, want lz4 (l) in extended storage (x)", col[0], col[1], compression, storage)
		}
	}
	if err := db.QueryRow(`SELECT attstorage FROM pg_attribute
		WHERE attrelid = 'raw_messages'::regclass AND attname = 'gzipped'`).Scan(&storage); err != nil {
		t.Fatal(err)
	}
	if storage != "e" {
		t.Errorf("raw_messages.gzipped storage %q, want external (e): it is gzipped already", storage)
	}
}
