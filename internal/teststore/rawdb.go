package teststore

import (
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// RawDB opens a connection of the test's own to the database behind a
// store URL, for what the store does not offer (triggers that refuse a
// message, cheap counts while waiting). Its statements take $1-style
// placeholders on both databases, or sqlx's Rebind.
func RawDB(t testing.TB, dbURL string) *sqlx.DB {
	t.Helper()
	driver, bind, dsn := "pgx", "pgx", dbURL
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		driver, bind, dsn = "sqlite", "sqlite3", "file:"+path+"?_pragma=busy_timeout(30000)"
	}
	db, err := sqlx.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	db = sqlx.NewDb(db.DB, bind)
	t.Cleanup(func() { db.Close() })
	return db
}
