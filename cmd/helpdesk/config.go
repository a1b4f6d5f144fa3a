package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/helpdesk/helpdesk/helpdesk/secret"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/web"
)

// config is the process configuration, from the environment.
type config struct {
	DatabaseURL string
	RedisURL    string
	Listen      string
	SecretKey   string
	SMTPURL     string
	PublicURL   string // HELPDESK_PUBLIC_URL: where users reach the web; base of OAuth2 callbacks
	// OAuthClients are the helpdesk's OAuth2 clients at Google and
	// Microsoft (HELPDESK_OAUTH_GOOGLE_CLIENT_ID/_SECRET and the
	// MICROSOFT pair), for "Connect with ..." on mailbox pages.
	OAuthClients map[string]web.OAuthClient
	DataDir      string // where the SQLite file, the secret key and the fetch lock live
	LockTTL      time.Duration
	Fetch        fetchLimits
}

// fetchLimits bound a fetch instance; zero values leave the fetcher's
// defaults (fetcher.ServiceConfig).
type fetchLimits struct {
	Concurrency  int   // HELPDESK_FETCH_CONCURRENCY: body downloads at once
	MaxBytes     int64 // HELPDESK_FETCH_MAX_BYTES: body bytes in flight
	MaxMailboxes int   // HELPDESK_FETCH_MAX_MAILBOXES: mailboxes owned
}

func loadConfig() (config, error) {
	c := config{
		DatabaseURL: envOr("HELPDESK_DATABASE_URL", "sqlite:./data/helpdesk.db"),
		RedisURL:    os.Getenv("HELPDESK_REDIS_URL"),
		Listen:      envOr("HELPDESK_LISTEN", "127.0.0.1:8080"),
		SecretKey:   os.Getenv("HELPDESK_SECRET_KEY"),
		SMTPURL:     os.Getenv("HELPDESK_SMTP_URL"),
		PublicURL:   os.Getenv("HELPDESK_PUBLIC_URL"),
		DataDir:     os.Getenv("HELPDESK_DATA_DIR"),
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
		if path, ok := strings.CutPrefix(c.DatabaseURL, "sqlite:"); ok {
			c.DataDir = filepath.Dir(strings.TrimPrefix(path, "//"))
		}
	}
	if v := os.Getenv("HELPDESK_LOCK_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 500*time.Millisecond {
			return c, fmt.Errorf("HELPDESK_LOCK_TTL %q: want a duration of at least 500ms, e.g. 30s", v)
		}
		c.LockTTL = d
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Listen
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("HELPDESK_PUBLIC_URL %q: want http(s)://host[:port]", c.PublicURL)
	}
	c.OAuthClients = map[string]web.OAuthClient{}
	for _, p := range []string{"google", "microsoft"} {
		prefix := "HELPDESK_OAUTH_" + strings.ToUpper(p) + "_CLIENT_"
		if id := os.Getenv(prefix + "ID"); id != "" {
			c.OAuthClients[p] = web.OAuthClient{ID: id, Secret: os.Getenv(prefix + "SECRET")}
		}
	}
	var err error
	if c.Fetch, err = loadFetchLimits(); err != nil {
		return c, err
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		return c, fmt.Errorf("HELPDESK_REDIS_URL %q: want redis://host:port/db", c.RedisURL)
	}
	if c.SMTPURL != "" && !strings.HasPrefix(c.SMTPURL, "smtp://") && !strings.HasPrefix(c.SMTPURL, "smtps://") {
		return c, fmt.Errorf("HELPDESK_SMTP_URL: want smtp://user:pass@host:port or smtps://...")
	}
	return c, nil
}

func loadFetchLimits() (fetchLimits, error) {
	var l fetchLimits
	var err error
	if l.Concurrency, err = positiveIntEnv("HELPDESK_FETCH_CONCURRENCY", "downloads at once", 32); err != nil {
		return l, err
	}
	if l.MaxMailboxes, err = positiveIntEnv("HELPDESK_FETCH_MAX_MAILBOXES", "mailboxes", 10000); err != nil {
		return l, err
	}
	if v := os.Getenv("HELPDESK_FETCH_MAX_BYTES"); v != "" {
		n, err := humanize.ParseBytes(v)
		if err != nil || n < 1<<20 || n > math.MaxInt64 {
			return l, fmt.Errorf("HELPDESK_FETCH_MAX_BYTES %q: want a size of at least 1MiB, e.g. 256MiB or a number of bytes", v)
		}
		l.MaxBytes = int64(n)
	}
	return l, nil
}

// positiveIntEnv reads a count of what from the environment; 0 when unset.
func positiveIntEnv(name, what string, example int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s %q: want a number of %s of at least 1, e.g. %d", name, v, what, example)
	}
	return n, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// secretKey returns HELPDESK_SECRET_KEY, or the key generated into the data
// directory on first run.
func (c config) secretKey() (string, error) {
	if c.SecretKey != "" {
		return c.SecretKey, nil
	}
	path := filepath.Join(c.DataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read secret key: %w", err)
	}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return "", fmt.Errorf("create data directory: %w", err)
	}
	buf := make([]byte, 32)
	rand.Read(buf)
	key := hex.EncodeToString(buf)
	// O_EXCL: two first runs at once agree on one key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return c.secretKey()
	}
	if err != nil {
		return "", fmt.Errorf("write secret key: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(key + "\n"); err != nil {
		return "", fmt.Errorf("write secret key: %w", err)
	}
	return key, nil
}

// openStore opens the database; unless migrating, it refuses an old schema.
func openStore(ctx context.Context, c config, migrating bool) (*store.Store, error) {
	key, err := c.secretKey()
	if err != nil {
		return nil, err
	}
	secrets, err := secret.NewBox(key)
	if err != nil {
		return nil, err
	}
	store, err := store.Open(ctx, c.DatabaseURL, store.Options{Secrets: secrets})
	if err != nil {
		return nil, err
	}
	if !migrating {
		if err := store.CheckSchema(ctx); err != nil {
			store.Close()
			return nil, err
		}
	}
	return store, nil
}

// openMigratedStore opens the database and applies pending migrations.
func openMigratedStore(ctx context.Context, c config) (*store.Store, error) {
	store, err := openStore(ctx, c, true)
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}
