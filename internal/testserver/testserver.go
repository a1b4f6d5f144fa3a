// Package testserver starts real servers privately for tests: Dovecot
// (IMAP, optionally with TLS), PostgreSQL, Redis, an in-process SMTP sink,
// and finds Chromium.
//
// Every server listens on a free 127.0.0.1 port, keeps its files in its own
// temporary directory and belongs to the test that started it: the test can
// Kill it (SIGKILL, like a crash) and Restart it on the same port with the
// same data, and cleanup stops it and removes its files even when the test
// fails (printing the tail of the server's log if it did). Server processes
// also get SIGKILL from the kernel when the test binary dies (Pdeathsig), so
// a crashed or timed-out test leaves no process behind.
//
//	d := testserver.StartDovecot(t)      // or StartDovecotTLS
//	d.AddUser(t, "support", "secret")
//	uid := d.Append(t, "support", "INBOX", raw)
//	d.AppendMany(t, "support", "INBOX", msgs) // thousands per second
//	c := d.Dial(t, "support")               // logged-in go-imap client
//
//	url := testserver.PostgresURL(t)      // fresh database, shared cluster
//	pg := testserver.StartPostgres(t)     // own cluster, for Kill/Restart
//
//	s := testserver.StartSMTP(t)          // s.Messages(), s.FailRate(0.5)
//
//	tab := testserver.ChromiumTab(t, 1280, 900) // own browser context, shared Chromium
//
// Packages that call PostgresURL or ChromiumTab must run their tests
// through Main, which stops the shared cluster and browser after the tests:
//
//	func TestMain(m *testing.M) { testserver.Main(m) }
package testserver

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Main runs the tests of a package and then stops the servers shared by the
// whole test binary (the PostgreSQL cluster behind PostgresURL, the Chromium
// behind ChromiumTab). Call it from
// TestMain; it does not return. cleanups run after the tests.
func Main(m *testing.M, cleanups ...func()) {
	shared.mu.Lock()
	shared.main = true
	shared.mu.Unlock()
	code := m.Run()
	stopSharedPostgres()
	stopSharedChromium()
	for _, c := range cleanups {
		c()
	}
	os.Exit(code)
}

// SkipShort skips the calling test under -short, saying what it needs that
// is slow (a PostgreSQL cluster, Chromium, Dovecot, a fault scenario):
// `make test-short` runs the unit tests, SQLite and one Dovecot smoke test,
// `make test` everything. PostgresURL, StartPostgres and Chromium call it.
func SkipShort(t testing.TB, needs string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs %s: skipped with -short", needs)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process can still take it before the caller binds it; servers
// started by this package retry with a new port when that happens.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("testserver: no free port: %v", err)
	}
	return port
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitPort waits until addr accepts a TCP connection or the timeout passes.
func WaitPort(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting connections after %v: %w", addr, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// proc is a server process started in its own process group, so that
// killing it also kills every child it forked.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // exit status; read after done is closed
}

// startProc starts name with args, stdout and stderr appended to logPath,
// optionally as another user.
func startProc(logPath string, cred *syscall.Credential, name string, args ...string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(name, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: cred,
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the whole process group.
func (p *proc) signal(sig syscall.Signal) {
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// kill sends SIGKILL to the process, its process group and all its
// descendants (PostgreSQL backends make themselves group leaders), and
// waits until none of them runs. Killing an exited process is a no-op.
func (p *proc) kill() {
	if p == nil {
		return
	}
	pid := p.cmd.Process.Pid
	if p.exited() && !anyAlive(pid, nil) {
		return // reaped, group empty: the ids may belong to others now
	}
	// Stop the leader first so it cannot fork while its tree is listed.
	_ = syscall.Kill(-pid, syscall.SIGSTOP)
	tree := descendants(pid)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for _, c := range tree {
		_ = syscall.Kill(c, syscall.SIGKILL)
	}
	<-p.done
	// Orphans reparented to init may still be dying; wait until none of
	// them runs. Zombies count as gone: they hold no sockets, files or
	// shared memory, and init reaps them when it gets to it.
	for i := 0; i < 400 && anyAlive(pid, tree); i++ {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		time.Sleep(5 * time.Millisecond)
	}
}

// waitReady polls ready every interval until it succeeds. It fails when the
// process exits first, and kills the process when ready still fails after
// timeout. name is the server's name in the error.
func (p *proc) waitReady(name string, timeout, interval time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.exited() {
			return fmt.Errorf("%s exited: %v", name, p.err)
		}
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("%s not ready after %v: %v", name, timeout, err)
		}
		time.Sleep(interval)
	}
}

// retryWhileBusy calls start until it succeeds, for a server restarted
// right after a kill: while the last lines of logPath name one of busy (a
// port or other resource the killed server still holds), it tries again,
// 50 times 100 ms apart at most. It returns the last error.
func retryWhileBusy(logPath string, start func() error, busy ...string) error {
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if err = start(); err == nil {
			return nil
		}
		tail := logTail(logPath, 5)
		if !slices.ContainsFunc(busy, func(b string) bool { return strings.Contains(tail, b) }) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// procStat is what kill needs from /proc/PID/stat.
type procStat struct {
	pid, ppid, pgid int
	state           byte
}

func readProcs() []procStat {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 || f[0] == "" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgid, _ := strconv.Atoi(f[2])
		out = append(out, procStat{pid: pid, ppid: ppid, pgid: pgid, state: f[0][0]})
	}
	return out
}

// descendants lists the pids of all descendants of pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	for _, ps := range readProcs() {
		children[ps.ppid] = append(children[ps.ppid], ps.pid)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// anyAlive reports whether a process of group pgid, or one of pids, still
// runs (is neither gone nor a zombie).
func anyAlive(pgid int, pids []int) bool {
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	for _, ps := range readProcs() {
		if (ps.pgid == pgid || want[ps.pid]) && ps.state != 'Z' && ps.state != 'X' {
			return true
		}
	}
	return false
}

// stop asks the process group to end with sig and falls back to SIGKILL
// after grace.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	if p == nil {
		return
	}
	if !p.exited() {
		p.signal(sig)
	}
	select {
	case <-p.done:
	case <-time.After(grace):
	}
	p.kill()
}

// lookupIDs returns the numeric uid and gid of a system user.
func lookupIDs(name string) (uid, gid int, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, err
	}
	uid, err = strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, err
	}
	gid, err = strconv.Atoi(u.Gid)
	if err != nil {
		return 0, 0, err
	}
	return uid, gid, nil
}

// makeDir makes a world-readable temporary directory. Not t.TempDir: its
// parent is mode 0700, which unprivileged server processes cannot enter.
func makeDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", "helpdesk-"+prefix+"-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// logTail returns the last n lines of a log file, for failure messages.
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// selfSignedCert makes a self-signed ECDSA certificate for 127.0.0.1, ::1
// and localhost, valid for a day. It returns PEM cert and key, and a client
// configuration that trusts exactly this certificate.
func selfSignedCert() (certPEM, keyPEM []byte, client *tls.Config, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "helpdesk test server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}, nil
}
