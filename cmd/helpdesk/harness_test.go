package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite"

	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// binDir holds the helpdesk binaries under test: binPath, built by
// TestMain, and the control run's binary without fencing.
var binDir, binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "helpdesk-bin-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	binPath, err = buildBinary("helpdesk")
	if err != nil {
		panic(err)
	}
	testserver.Main(m, func() { os.RemoveAll(dir) })
}

// buildBinary builds the helpdesk command with the given build tags into
// binDir, with the race detector when the tests run with it.
func buildBinary(name string, tags ...string) (string, error) {
	path := filepath.Join(binDir, name)
	args := []string{"build", "-tags", strings.Join(tags, ","), "-o", path}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build %s: %w", name, err)
	}
	return path, nil
}

// raceExitEnv spares each helpdesk process of a test the race runtime's
// sleep at exit (GORACE atexit_sleep_ms, 1 s by default, meant for reports
// still being written by other threads; Go reports a race as it happens).
// Tests run dozens of processes, one after another.
const raceExitEnv = "GORACE=atexit_sleep_ms=0"

// noFencing is the binary built with -tags nofencing, whose fetch writes
// skip the fence check: built on first use, once per test binary.
var noFencing struct {
	once sync.Once
	path string
	err  error
}

// noFencingBinary returns the control run's binary.
func noFencingBinary(t testing.TB) string {
	t.Helper()
	noFencing.once.Do(func() { noFencing.path, noFencing.err = buildBinary("helpdesk-nofencing", "nofencing") })
	if noFencing.err != nil {
		t.Fatal(noFencing.err)
	}
	return noFencing.path
}

// world is what process tests share: a database URL, a data directory and
// the environment every helpdesk process of the test gets.
type world struct {
	t       testing.TB
	bin     string // the helpdesk binary its processes run
	dbURL   string
	dataDir string
	env     []string
	store   *store.Store // the test's own view of the database
	db      *sqlx.DB     // its raw view, for cheap counts while waiting
}

func newWorld(t testing.TB, dbURL string, extraEnv ...string) *world {
	t.Helper()
	w := &world{t: t, bin: binPath, dbURL: dbURL, dataDir: t.TempDir()}
	w.env = append([]string{
		"HELPDESK_DATABASE_URL=" + dbURL,
		"HELPDESK_DATA_DIR=" + w.dataDir,
		"HELPDESK_SECRET_KEY=" + teststore.SecretKey,
		"HELPDESK_LISTEN=127.0.0.1:0",
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		raceExitEnv,
	}, extraEnv...)
	w.run(0, "migrate")
	w.store = teststore.OpenURL(t, dbURL, store.Options{})
	w.db = teststore.RawDB(t, dbURL)
	return w
}

// count runs a COUNT query ($1-style arguments work on both databases).
func (w *world) count(query string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.db.QueryRow(query, args...).Scan(&n); err != nil {
		w.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// stored is how many messages of the mailbox are stored: one ledger row
// each, a cheap count to poll (the audit reads every Message-ID).
func (w *world) stored(mailboxID int64) int {
	return w.count(`SELECT COUNT(*) FROM fetch_ledger WHERE mailbox_id = $1 AND outcome = 'new'`, mailboxID)
}

// run runs a helpdesk command to completion and checks its exit code.
func (w *world) run(wantCode int, args ...string) (stdout, stderr string) {
	w.t.Helper()
	stdout, stderr, code := w.runEnv(nil, args...)
	if code != wantCode {
		w.t.Fatalf("helpdesk %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, stdout, stderr)
	}
	return stdout, stderr
}

func (w *world) runEnv(env []string, args ...string) (stdout, stderr string, code int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = append(append([]string{}, w.env...), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("run helpdesk: %v", err)
	}
	return out.String(), errb.String(), 0
}

// addMailbox registers a Dovecot account as a mailbox through the CLI and
// returns its ID (the last line of the output, per the contract).
func (w *world) addMailbox(d *testserver.Dovecot, user, pass string, extra ...string) int64 {
	w.t.Helper()
	d.AddUser(w.t, user, pass)
	host, port, _ := net.SplitHostPort(d.Addr())
	args := append([]string{"mailbox", "add", "--name", user, "--email", user + "@example.test",
		"--imap-host", host, "--imap-port", port, "--imap-security", "none",
		"--imap-user", user, "--imap-password-env", "TEST_IMAP_PASSWORD"}, extra...)
	stdout, stderr, code := w.runEnv([]string{"TEST_IMAP_PASSWORD=" + pass}, args...)
	if code != 0 {
		w.t.Fatalf("mailbox add: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	id, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		w.t.Fatalf("mailbox add: last line %q is not an ID", lines[len(lines)-1])
	}
	return id
}

// proc is a helpdesk process running in the background.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

// Log is what the process wrote to stderr so far.
func (p *proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// start runs a helpdesk command in the background; it is killed at cleanup.
func (w *world) start(env []string, args ...string) *proc {
	w.t.Helper()
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(w.bin, args...)
	p.cmd.Env = append(append([]string{}, w.env...), env...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		w.t.Fatalf("start helpdesk: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	w.t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGCONT)
		p.cmd.Process.Kill()
		<-p.done
		if w.t.Failed() {
			w.t.Logf("helpdesk %s log:\n%s", strings.Join(args, " "), tail(p.Log(), 3000))
		}
	})
	return p
}

func (p *proc) signal(sig syscall.Signal) { p.cmd.Process.Signal(sig) }

// stop sends SIGSTOP and waits until every thread of the process has
// stopped: the signal takes effect asynchronously, and a thread still
// running may send one more request meanwhile.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	p.signal(syscall.SIGSTOP)
	tasks := fmt.Sprintf("/proc/%d/task", p.cmd.Process.Pid)
	waitFor(t, 10*time.Second, "the process to stop", func() bool {
		ents, err := os.ReadDir(tasks)
		if err != nil {
			return p.exited()
		}
		for _, e := range ents {
			stat, err := os.ReadFile(filepath.Join(tasks, e.Name(), "stat"))
			if err != nil {
				continue // the thread is gone
			}
			// pid (comm) state ...; comm may hold spaces and parentheses.
			f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
			if len(f) == 0 || (f[0] != "T" && f[0] != "t") {
				return false
			}
		}
		return true
	})
}

// failureLog is what to show of a process that exited badly: its race
// reports if it has any (exit 66; they come early), else its last lines.
func (p *proc) failureLog() string {
	log := p.Log()
	if i := strings.Index(log, "WARNING: DATA RACE"); i >= 0 {
		return log[i:min(len(log), i+30000)]
	}
	return tail(log, 30000)
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("helpdesk did not exit within %s", timeout)
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 0
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitFor polls cond (a database read, say) until it holds.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
