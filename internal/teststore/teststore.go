// Package teststore gives tests a migrated store.Store on a fresh
// database: a SQLite file in a temp dir, or a new database on the private
// PostgreSQL cluster of internal/testserver.
package teststore

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/secret"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
)

// Dialects are the databases every storage test runs on.
var Dialects = []string{"sqlite", "postgres"}

// SecretKey is the secret key of test stores.
const SecretKey = "test-secret-key-0123456789"

// URL returns a HELPDESK_DATABASE_URL for a fresh, empty database.
func URL(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case "sqlite":
		return "sqlite:" + filepath.Join(t.TempDir(), "helpdesk.db")
	case "postgres":
		return testserver.PostgresURL(t)
	}
	t.Fatalf("unknown dialect %q", dialect)
	return ""
}

// WithParam returns a database URL with one query parameter set, e.g. a
// PostgreSQL setting for the connections.
func WithParam(t testing.TB, rawURL, key, value string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open returns a migrated store on a fresh database, closed at cleanup.
func Open(t testing.TB, dialect string) *store.Store {
	t.Helper()
	return OpenURL(t, URL(t, dialect), store.Options{})
}

// CheapPasswords is the cost of the password hashes of a store that
// OpenURL opens: argon2id at its production cost takes a quarter of a
// second of CPU under the race detector, and tests create and sign in
// users by the hundred. Checking a password works the same at any cost.
var CheapPasswords = secret.HashCost{Time: 1, MemoryKiB: 64}

// OpenURL opens and migrates the store at url with the test secret key,
// its signer (unless opts has one) and CheapPasswords (unless opts has a
// PasswordCost).
func OpenURL(t testing.TB, url string, opts store.Options) *store.Store {
	t.Helper()
	secrets, err := secret.NewBox(SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	opts.Secrets = secrets
	if opts.PasswordCost == (secret.HashCost{}) {
		opts.PasswordCost = CheapPasswords
	}
	if opts.Signer == nil {
		opts.Signer = helpdesk.NewMailSigner(SecretKey)
	}
	s, err := store.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("open store %s: %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}
