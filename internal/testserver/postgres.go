package testserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresBin is where Debian's PostgreSQL 15 server binaries live.
const PostgresBin = "/usr/lib/postgresql/15/bin"

// EnvPostgresURL names the environment variable that points tests at an
// existing PostgreSQL server (any database on it, as a user allowed to
// CREATE DATABASE). When set, PostgresURL creates its databases there
// instead of starting a private cluster.
const EnvPostgresURL = "HELPDESK_TEST_POSTGRES_URL"

// Postgres is a private PostgreSQL cluster, tuned for tests (fsync and
// full-page writes off: safe as long as the machine does not crash), listening
// on 127.0.0.1 only with trust authentication for the "postgres" role.
type Postgres struct {
	dir        string
	syncCommit string // "on" where a killed server must keep commits
	data       string
	logPath    string
	port       int

	mu sync.Mutex
	p  *proc
}

// shared is the one cluster behind PostgresURL for the whole test binary.
// It is package state on purpose: initdb and startup cost about a second,
// too much to pay in every test, and databases are cheap. It is started on
// first use and stopped by Main after all tests ran.
// Main marks itself running here, so that PostgresURL refuses to start a
// cluster nobody would stop.
var shared struct {
	mu      sync.Mutex
	main    bool // Main is running the tests
	started bool
	pg      *Postgres
	err     error
}

// PostgresURL returns the URL of a new, empty database, dropped at cleanup:
// postgres://postgres@127.0.0.1:PORT/NAME?sslmode=disable. All calls in one
// test binary share one private cluster, started on first use; the package
// must run its tests through Main so the cluster is stopped afterwards. With
// HELPDESK_TEST_POSTGRES_URL set, the databases are made on that server.
// Under -short the test is skipped.
func PostgresURL(t testing.TB) string {
	t.Helper()
	SkipShort(t, "PostgreSQL")
	if base := os.Getenv(EnvPostgresURL); base != "" {
		return newDatabase(t, base)
	}
	shared.mu.Lock()
	if !shared.started {
		shared.started = true
		if !shared.main {
			shared.err = errors.New("PostgresURL needs the shared cluster to be stopped after the tests: " +
				"add `func TestMain(m *testing.M) { testserver.Main(m) }` to the package")
		} else {
			// Nobody kills the shared cluster: commits need not
			// survive a crash.
			shared.pg, shared.err = startPostgres("off")
		}
	}
	pg, err := shared.pg, shared.err
	shared.mu.Unlock()
	if err != nil {
		t.Fatalf("testserver: shared postgres: %v", err)
	}
	return pg.NewDatabase(t)
}

// stopSharedPostgres stops the cluster behind PostgresURL, if it started.
func stopSharedPostgres() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.pg != nil {
		shared.pg.stop()
		shared.pg = nil
	}
	shared.started = false
	shared.err = nil
	shared.main = false
}

// StartPostgres starts a private cluster owned by the test, for tests that
// kill or restart the database. Unlike the shared cluster it keeps
// synchronous_commit on, so every committed transaction survives Kill.
// Cleanup stops it and removes its files. Under -short the test is skipped.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	SkipShort(t, "PostgreSQL")
	pg, err := startPostgres("on")
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testserver: postgres log tail (%s):\n%s", pg.logPath, logTail(pg.logPath, 30))
		}
		pg.stop()
	})
	return pg
}

func startPostgres(syncCommit string) (*Postgres, error) {
	initdb := filepath.Join(PostgresBin, "initdb")
	if _, err := os.Stat(initdb); err != nil {
		return nil, fmt.Errorf("postgres not found (%v); install it with: apt-get install -y postgresql", err)
	}
	uid, gid, err := lookupIDs("postgres")
	if err != nil {
		return nil, fmt.Errorf("postgres user missing (is postgresql installed?): %w", err)
	}
	dir, err := makeDir("postgres")
	if err != nil {
		return nil, err
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	pg := &Postgres{
		syncCommit: syncCommit,
		dir:        dir,
		data:       filepath.Join(dir, "data"),
		logPath:    filepath.Join(dir, "postgres.log"),
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	p, err := startProc(pg.logPath, cred, initdb, "-D", pg.data, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if err == nil {
		<-p.done
		err = p.err
	}
	if err != nil {
		err = fmt.Errorf("initdb: %v\n%s", err, logTail(pg.logPath, 20))
		os.RemoveAll(dir)
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if pg.port, err = freePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		err = pg.start()
		if err == nil {
			return pg, nil
		}
		if attempt < 3 && strings.Contains(logTail(pg.logPath, 20), "already in use") {
			continue
		}
		err = fmt.Errorf("starting postgres: %v\n%s", err, logTail(pg.logPath, 30))
		os.RemoveAll(dir)
		return nil, err
	}
}

// start runs the postmaster in the foreground and waits until it accepts
// queries.
func (pg *Postgres) start() error {
	uid, gid, err := lookupIDs("postgres")
	if err != nil {
		return err
	}
	p, err := startProc(pg.logPath, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
		filepath.Join(PostgresBin, "postgres"), "-D", pg.data,
		"-p", strconv.Itoa(pg.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+pg.dir,
		"-c", "fsync=off",
		"-c", "synchronous_commit="+pg.syncCommit,
		"-c", "full_page_writes=off",
		"-c", "max_connections=300",
		"-c", "shared_buffers=32MB",
		"-c", "log_min_messages=warning",
	)
	if err != nil {
		return err
	}
	if err := p.waitReady("postgres", 30*time.Second, 20*time.Millisecond, pg.ping); err != nil {
		return err
	}
	pg.mu.Lock()
	pg.p = p
	pg.mu.Unlock()
	return nil
}

func (pg *Postgres) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	return c.Ping(ctx)
}

// Addr is "127.0.0.1:PORT".
func (pg *Postgres) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(pg.port)) }

// Port is the TCP port.
func (pg *Postgres) Port() int { return pg.port }

// Dir is the cluster's directory (data directory, log, unix socket).
func (pg *Postgres) Dir() string { return pg.dir }

// LogPath is the server's log file.
func (pg *Postgres) LogPath() string { return pg.logPath }

// URL is the URL of database db as user postgres, without creating it.
func (pg *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", pg.Addr(), db)
}

// NewDatabase creates an empty database, dropped at cleanup, and returns its
// URL.
func (pg *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, pg.URL("postgres"))
}

// Kill stops the cluster at once with SIGKILL, as a crash would. Restart
// recovers it on the same port. Killing a stopped cluster does nothing.
func (pg *Postgres) Kill() {
	pg.mu.Lock()
	p := pg.p
	pg.p = nil
	pg.mu.Unlock()
	p.kill()
}

// Restart kills the cluster if it runs and starts it again on the same port
// with the same data (after crash recovery).
func (pg *Postgres) Restart(t testing.TB) {
	t.Helper()
	pg.Kill()
	// A killed postmaster leaves its pid file; the postmaster removes a
	// stale one itself when the pid is gone. The port, or shared memory of
	// a backend that is still exiting, may need a moment.
	if err := retryWhileBusy(pg.logPath, pg.start, "already in use", "still in use"); err != nil {
		t.Fatalf("testserver: restarting postgres: %v\n%s", err, logTail(pg.logPath, 30))
	}
}

// Running reports whether the postmaster is alive.
func (pg *Postgres) Running() bool {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	return pg.p != nil && !pg.p.exited()
}

// stop shuts the cluster down (immediate mode) and removes its files.
func (pg *Postgres) stop() {
	pg.mu.Lock()
	p := pg.p
	pg.p = nil
	pg.mu.Unlock()
	p.stop(syscall.SIGQUIT, 5*time.Second)
	os.RemoveAll(pg.dir)
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)

// newDatabase creates a database with a unique name on the server at admin
// (a URL to any existing database) and returns the URL of the new one.
func newDatabase(t testing.TB, admin string) string {
	t.Helper()
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testserver: bad postgres URL: %v", err)
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	prefix := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	if len(prefix) > 40 {
		prefix = prefix[:40]
	}
	name := "t_" + prefix + "_" + hex.EncodeToString(rnd[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testserver: connect to postgres: %v", err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testserver: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return // the server is gone (killed or stopped): nothing to drop
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("testserver: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
