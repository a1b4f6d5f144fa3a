package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// dialect is everything that differs between PostgreSQL (postgres.go) and
// SQLite (sqlite.go): how a pool is opened, how a list is passed as one
// parameter, and how the fetch path takes ids and writes its collected
// rows. Query texts that differ live in queries/postgres and queries/sqlite.
type dialect interface {
	// Name is "postgres" or "sqlite": the folder of the dialect's
	// migrations and query files.
	Name() string
	// open opens the pool (its driver name is one sqlx knows, for the
	// placeholder style).
	open(ctx context.Context) (*sqlx.DB, error)
	// listArg passes values ([]int64, []uint32, []string) as the one
	// parameter of a query's list: "= ANY(?)" on PostgreSQL,
	// "IN (SELECT value FROM json_each(?))" on SQLite. The query text is
	// then the same for any number of values, so it is prepared once.
	listArg(values any) (any, error)
	// nextID is the id the next row of table will have (rowinsert.go).
	nextID(ctx context.Context, t *tx, table string) (int64, error)
	// insertRows writes collected rows of one insert (rowinsert.go).
	insertRows(ctx context.Context, t *tx, ins *rowInsert, rows [][]any) error
	// searchMatch is the full-text condition of a search's words, "" for
	// none (search.go).
	searchMatch(sq *helpdesk.SearchQuery) string
}

// dialectFor reads HELPDESK_DATABASE_URL: "postgres://..." or "sqlite:PATH".
func dialectFor(databaseURL string) (dialect, error) {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return postgres{dsn: databaseURL}, nil
	case strings.HasPrefix(databaseURL, "sqlite:"):
		return newSQLite(databaseURL)
	default:
		return nil, fmt.Errorf("HELPDESK_DATABASE_URL %q: want postgres://... or sqlite:PATH", databaseURL)
	}
}
