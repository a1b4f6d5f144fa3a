package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dustin/go-humanize"

	"github.com/helpdesk/helpdesk/helpdesk"
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
	// MetricsToken is HELPDESK_METRICS_TOKEN: the bearer token /metrics
	// requires; empty serves /metrics to anyone who reaches the listener.
	MetricsToken string
	DataDir      string // where the SQLite file, the secret key and the fetch lock live
	LockTTL      time.Duration
	Fetch        fetchLimits
	// PublicURL is where users reach the helpdesk (HELPDESK_PUBLIC_URL),
	// without a trailing slash: the base of links in mail; https turns on
	// Secure cookies.
	PublicURL string
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// (HELPDESK_TRUSTED_PROXIES).
	TrustedProxies []*net.IPNet
	// MailHTMLMaxBytes (HELPDESK_MAIL_HTML_MAX_BYTES): larger HTML mail
	// shows its text; 0 leaves the web's default.
	MailHTMLMaxBytes int64
	// Attachments bound the files of one reply:
	// HELPDESK_ATTACHMENT_MAX_BYTES each, HELPDESK_REPLY_ATTACHMENTS_MAX_BYTES
	// together; zero leaves the web's defaults.
	Attachments helpdesk.AttachmentLimits
	// OAuthClients are the helpdesk's OAuth2 clients at Google and
	// Microsoft (HELPDESK_OAUTH_GOOGLE_CLIENT_ID/_SECRET and the
	// MICROSOFT pair), for "Connect with ..." on mailbox pages.
	OAuthClients map[string]web.OAuthClient
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
		DatabaseURL:  envOr("HELPDESK_DATABASE_URL", "sqlite:./data/helpdesk.db"),
		RedisURL:     os.Getenv("HELPDESK_REDIS_URL"),
		Listen:       envOr("HELPDESK_LISTEN", "127.0.0.1:8080"),
		SecretKey:    os.Getenv("HELPDESK_SECRET_KEY"),
		SMTPURL:      os.Getenv("HELPDESK_SMTP_URL"),
		MetricsToken: os.Getenv("HELPDESK_METRICS_TOKEN"),
		DataDir:      os.Getenv("HELPDESK_DATA_DIR"),
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
	if v := os.Getenv("HELPDESK_MAIL_HTML_MAX_BYTES"); v != "" {
		n, err := humanize.ParseBytes(v)
		if err != nil || n < 64<<10 || n > math.MaxInt64 {
			return c, fmt.Errorf("HELPDESK_MAIL_HTML_MAX_BYTES %q: want a size of at least 64KiB, e.g. 2MiB or a number of bytes", v)
		}
		c.MailHTMLMaxBytes = int64(n)
	}
	if c.Attachments.PerFile, err = envSize("HELPDESK_ATTACHMENT_MAX_BYTES"); err != nil {
		return c, err
	}
	if c.Attachments.PerReply, err = envSize("HELPDESK_REPLY_ATTACHMENTS_MAX_BYTES"); err != nil {
		return c, err
	}
	if c.PublicURL, err = parsePublicURL(envOr("HELPDESK_PUBLIC_URL", "http://"+c.Listen)); err != nil {
		return c, err
	}
	if c.TrustedProxies, err = parseTrustedProxies(os.Getenv("HELPDESK_TRUSTED_PROXIES")); err != nil {
		return c, err
	}
	// Neither URL is quoted in the errors: both may hold a password.
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		return c, errors.New("HELPDESK_REDIS_URL: want redis://host:port/db")
	}
	if c.SMTPURL != "" {
		if _, err := helpdesk.ParseSMTPURL(c.SMTPURL); err != nil {
			return c, fmt.Errorf("HELPDESK_SMTP_URL: %w", err)
		}
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

// parsePublicURL checks HELPDESK_PUBLIC_URL: an absolute http or https
// URL, maybe with a path, and drops a trailing slash.
func parsePublicURL(v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("HELPDESK_PUBLIC_URL %q: want the http or https URL users reach the helpdesk at, e.g. https://help.example.com", v)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// parseTrustedProxies reads HELPDESK_TRUSTED_PROXIES: CIDRs or single
// addresses, separated by commas or spaces.
func parseTrustedProxies(v string) ([]*net.IPNet, error) {
	var proxies []*net.IPNet
	for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		prefix, err := netip.ParsePrefix(s)
		if addr, addrErr := netip.ParseAddr(s); err != nil && addrErr == nil {
			prefix, err = netip.PrefixFrom(addr, addr.BitLen()), nil
		}
		if err != nil {
			return nil, fmt.Errorf("HELPDESK_TRUSTED_PROXIES: %q is not an address or CIDR; want e.g. 10.0.0.0/8, 192.0.2.7", s)
		}
		_, ipNet, _ := net.ParseCIDR(prefix.Masked().String())
		proxies = append(proxies, ipNet)
	}
	return proxies, nil
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

// envSize reads a size like 20MiB or a number of bytes (0: not set).
func envSize(name string) (int64, error) {
	v := os.Getenv(name)
	if v == "" {
		return 0, nil
	}
	n, err := humanize.ParseBytes(v)
	if err != nil || n < 1 || n > 1<<40 {
		return 0, fmt.Errorf("%s %q: want a size, e.g. 20MiB or a number of bytes", name, v)
	}
	return int64(n), nil
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
	store, err := store.Open(ctx, c.DatabaseURL, store.Options{Secrets: secrets, PublicURL: c.PublicURL, Signer: helpdesk.NewMailSigner(key)})
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
