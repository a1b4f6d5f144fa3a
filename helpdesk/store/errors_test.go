package store_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk/store"
)

// Real SQLite errors: a lock held too long is database trouble, a
// constraint that refuses a row is not.
func TestIsDatabaseTroubleOnSQLite(t *testing.T) {
	t.Parallel()
	dsn := "file:" + filepath.Join(t.TempDir(), "t.db") + "?_pragma=busy_timeout(0)"
	a, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.Exec(`CREATE TABLE t (k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec(`INSERT INTO t VALUES ('x')`); err != nil {
		t.Fatal(err)
	}
	_, dup := a.Exec(`INSERT INTO t VALUES ('x')`)
	if dup == nil || store.IsDatabaseTrouble(dup) {
		t.Fatalf("unique violation %v: want an error that is not database trouble", dup)
	}
	tx, err := a.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO t VALUES ('y')`); err != nil {
		t.Fatal(err)
	}
	_, busy := b.Exec(`INSERT INTO t VALUES ('z')`)
	if busy == nil || !store.IsDatabaseTrouble(busy) {
		t.Fatalf("write while another connection holds the lock: %v, want database trouble", busy)
	}
}
