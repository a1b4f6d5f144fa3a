package testserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a private redis-server owned by one test: it listens on a free
// loopback port, keeps its files in a temp dir, and can be killed and
// restarted on the same port for fault tests.
type Redis struct {
	port int
	dir  string
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// RedisOption changes how StartRedis runs the server.
type RedisOption func(*redisConfig)

type redisConfig struct {
	appendOnly bool
}

// WithAppendOnly makes the server persist every write (appendonly yes,
// appendfsync always), so its keys survive Kill and Restart.
func WithAppendOnly() RedisOption {
	return func(c *redisConfig) { c.appendOnly = true }
}

// redisStartTimeout bounds how long a start may take before the test fails.
const redisStartTimeout = 15 * time.Second

// StartRedis starts a foreground redis-server and stops it when the test ends.
// It fails the test (never skips) when redis-server is not installed: the
// lock tests are meaningless without a real server.
func StartRedis(t testing.TB, opts ...RedisOption) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("testserver: redis-server not found (apt-get install -y redis-server): %v", err)
	}
	var cfg redisConfig
	for _, o := range opts {
		o(&cfg)
	}
	dir := t.TempDir()

	// A free port found by listening can be taken by someone else before
	// redis binds it; try a few ports before giving up.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testserver: free port: %v", err)
		}
		args := []string{bin,
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--dir", dir,
		}
		if cfg.appendOnly {
			args = append(args, "--appendonly", "yes", "--appendfsync", "always")
		} else {
			args = append(args, "--appendonly", "no")
		}
		r := &Redis{port: port, dir: dir, args: args}
		if lastErr = r.start(); lastErr == nil {
			t.Cleanup(r.Stop)
			return r
		}
	}
	t.Fatalf("testserver: start redis-server: %v", lastErr)
	return nil
}

// Addr is the server's host:port.
func (r *Redis) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
}

// Client returns a new client for the server, closed when the test ends.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Kill sends SIGKILL and waits for the process to exit: no shutdown save,
// no goodbye to clients, like a crashed server.
func (r *Redis) Kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.killLocked()
}

// Stop ends the server; it is safe to call more than once.
func (r *Redis) Stop() { r.Kill() }

// Restart kills the server if it runs and starts it again on the same port
// and directory (so an append-only file is replayed).
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	r.Kill()
	if err := r.start(); err != nil {
		t.Fatalf("testserver: restart redis-server on port %d: %v", r.port, err)
	}
}

func (r *Redis) killLocked() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.exited
	r.cmd = nil
}

// start runs the server and returns once it logs that it accepts
// connections, or with the log tail when it exits first.
func (r *Redis) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()

	logPath := r.dir + "/redis.log"
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	ready := make(chan struct{})
	w := &redisLogWriter{file: logFile, ready: ready}
	cmd := exec.Command(r.args[0], r.args[1:]...)
	cmd.Dir = r.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // as every server here
	cmd.Stdout = w
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // also waits for the copy into w to finish
		_ = logFile.Close()
		close(exited)
	}()

	timer := time.NewTimer(redisStartTimeout)
	defer timer.Stop()
	select {
	case <-ready:
	case <-exited:
		return fmt.Errorf("redis-server exited during start:\n%s", w.head())
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("redis-server not ready after %s", redisStartTimeout)
	}

	// The log line comes just before the listener serves; a PING confirms.
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), DisableIdentity: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), redisStartTimeout)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("redis-server ping: %w", err)
	}
	r.cmd, r.exited = cmd, exited
	return nil
}

// redisLogWriter copies the server's output into its log file and closes
// ready once the server says it accepts connections.
type redisLogWriter struct {
	file  *os.File
	ready chan struct{}

	mu   sync.Mutex
	buf  []byte // output up to readiness, for error messages
	seen bool
}

func (w *redisLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.seen {
		w.buf = append(w.buf, p...)
		if strings.Contains(string(w.buf), "Ready to accept connections") {
			w.seen = true
			close(w.ready)
		}
	}
	return w.file.Write(p)
}

func (w *redisLogWriter) head() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
