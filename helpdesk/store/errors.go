package store

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Errors are told apart by their type and code, for both drivers, never
// by their text.

// isUniqueViolation reports a UNIQUE constraint failure.
func isUniqueViolation(err error) bool {
	return isConstraint(err, "23505", sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// isForeignKeyViolation reports a row that refers to a missing one.
func isForeignKeyViolation(err error) bool {
	return isConstraint(err, "23503", sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY)
}

// isConstraint reports a PostgreSQL error with SQLSTATE code, or an SQLite
// error with one of the extended result codes.
func isConstraint(err error, code string, sqliteCodes ...int) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == code
	}
	var sqliteErr *sqlitedriver.Error
	if errors.As(err, &sqliteErr) {
		for _, c := range sqliteCodes {
			if sqliteErr.Code() == c {
				return true
			}
		}
	}
	return false
}

// IsDatabaseTrouble tells an error of the database itself (connection
// lost, session ended, server shutting down, serialization failure or
// deadlock, disk full, locked too long) from one about what was written.
// The fetcher ends its run on trouble and tries again later, instead of
// quarantining a message that was never the cause.
func IsDatabaseTrouble(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch sqlstateClass(pgErr.Code) {
		case "08", // connection exception
			"53", // insufficient resources (disk full, out of memory)
			"57", // operator intervention: shutdown, cancel, idle session ended
			"58": // system error (I/O)
			return true
		}
		switch pgErr.Code {
		case "40001", "40P01", // serialization failure, deadlock
			"25P03": // idle_in_transaction_session_timeout
			return true
		}
		return false
	}
	var sqliteErr *sqlitedriver.Error
	if errors.As(err, &sqliteErr) {
		switch sqliteErr.Code() & 0xff { // the primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN:
			return true
		}
		return false
	}
	var netErr net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &netErr) || pgconn.SafeToRetry(err)
}

func sqlstateClass(code string) string { return code[:min(2, len(code))] }
