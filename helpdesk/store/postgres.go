package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// idleTxTimeout ends a transaction that has sat idle this long: PostgreSQL
// closes its session and releases its locks. A fetch transaction holds its
// mailbox's fence row until it commits, so a fetcher stopped mid-commit
// (SIGSTOP, a frozen VM, a debugger) would otherwise keep the next holder's
// ClaimFence waiting, and the mailbox unfetched, until it resumed. No
// transaction of the helpdesk waits on anything but the database, so a
// minute idle means its process is not running. A URL that sets
// idle_in_transaction_session_timeout keeps its own value.
const idleTxTimeout = "1min"

// openPostgres opens a pool on dsn whose connections end idle transactions
// after idleTxTimeout.
func openPostgres(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("HELPDESK_DATABASE_URL: %w", err)
	}
	if _, set := cfg.RuntimeParams["idle_in_transaction_session_timeout"]; set {
		return stdlib.OpenDB(*cfg), nil
	}
	// Set after connecting rather than as a startup parameter, which
	// connection poolers such as PgBouncer refuse.
	setTimeout := func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET idle_in_transaction_session_timeout = '"+idleTxTimeout+"'")
		return err
	}
	return stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(setTimeout)), nil
}

// openSQL opens the pool for a driver and DSN from driverFor.
func openSQL(driver, dsn string) (*sql.DB, error) {
	if driver == "pgx" {
		return openPostgres(dsn)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}
