// Package store is the helpdesk's database: all of its SQL, for
// PostgreSQL and SQLite. The domain types it reads and writes are in
// package helpdesk. Queries are named, in queries/*.sql (queries.go);
// what differs between the databases is in one place (dialect.go).
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/secret"
	"github.com/helpdesk/helpdesk/migrations"
)

// Store is the database of the helpdesk. It is safe for concurrent use.
type Store struct {
	db      *sqlx.DB
	dialect dialect
	secrets *secret.Box
	// publicURL is the web's address, the base of links in mail; "" for
	// mail without links.
	publicURL string
	signer    *helpdesk.MailSigner
	hashCost  secret.HashCost // of new password hashes
	// The prepared queries of each area (queries.go).
	fetchQ   fetchQueries
	userQ    userQueries
	mailboxQ mailboxQueries
	outboxQ  outboxQueries
	convQ    conversationQueries
	oauthQ   oauthQueries
	eventQ   eventQueries
	searchQ  searchQueries
	// composerQ: saved replies and drafts (savedreplies.go, drafts.go).
	composerQ composerQueries
	list      listPieces // the conversation list's pieces (conversationlist.go)
	// eventSignals wakes WatchEvents after a commit with events (events.go).
	eventSignals eventSignals
}

// Options configures Open.
type Options struct {
	Secrets *secret.Box // encrypts stored IMAP and SMTP passwords
	// PublicURL is where users reach the web UI (HELPDESK_PUBLIC_URL,
	// without a trailing slash): notifications link to its pages.
	PublicURL string
	// Signer keys the Message-IDs and loop headers of outbound mail;
	// required.
	Signer *helpdesk.MailSigner
	// PasswordCost is the cost of new password hashes; zero means
	// secret.DefaultHashCost. Only tests set it, to a cheaper one:
	// nothing in the configuration reaches it.
	PasswordCost secret.HashCost
}

// Open connects to "postgres://..." or "sqlite:PATH" (SQLite with WAL and a
// busy timeout, its directory created). It neither migrates nor prepares
// the queries: CheckSchema or Migrate does, and every command calls one.
func Open(ctx context.Context, databaseURL string, opts Options) (*Store, error) {
	if opts.Signer == nil {
		return nil, errors.New("open store: no signer for outbound mail")
	}
	d, err := dialectFor(databaseURL)
	if err != nil {
		return nil, err
	}
	db, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	cost := opts.PasswordCost
	if cost == (secret.HashCost{}) {
		cost = secret.DefaultHashCost
	}
	return &Store{db: db, dialect: d, secrets: opts.Secrets, publicURL: opts.PublicURL, signer: opts.Signer, hashCost: cost}, nil
}

// Migrate applies every pending schema migration, then prepares the
// queries.
func (s *Store) Migrate(ctx context.Context) error {
	if err := migrations.Apply(ctx, s.db, s.dialect.Name()); err != nil {
		return err
	}
	if err := s.prepareQueries(ctx); err != nil {
		return err
	}
	return s.finishSearchReindex(ctx)
}

// CheckSchema fails with migrations.ErrOutdated on an old schema, then
// prepares the queries: a query the schema does not fit stops the start.
func (s *Store) CheckSchema(ctx context.Context) error {
	if err := migrations.Check(ctx, s.db, s.dialect.Name()); err != nil {
		return err
	}
	return s.prepareQueries(ctx)
}

// Ping checks the database is reachable (for /readyz).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Dialect is "postgres" or "sqlite".
func (s *Store) Dialect() string { return s.dialect.Name() }

// Close closes the database pool.
func (s *Store) Close() error {
	s.closeQueries()
	return s.db.Close()
}

// now is the one clock of stored timestamps: UTC, so that SQLite's text
// timestamps compare in time order.
func now() time.Time { return time.Now().UTC() }
