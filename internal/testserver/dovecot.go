package testserver

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Dovecot is a private Dovecot IMAP server owned by one test.
//
// Mail is stored as sdbox (measured faster to seed than maildir); users are
// passwd-files, so AddUser needs no restart. Cleanup kills the server and
// removes its directory.
type Dovecot struct {
	dir     string
	conf    string
	logPath string
	port    int // plain IMAP (and STARTTLS when TLS is on)
	tlsPort int // implicit TLS (imaps); 0 without TLS
	tls     *tls.Config

	mu    sync.Mutex
	p     *proc
	users map[string]string
}

// StartDovecot starts a Dovecot server without TLS. The test fails if
// Dovecot is not installed (apt-get install -y dovecot-imapd).
func StartDovecot(t testing.TB) *Dovecot {
	t.Helper()
	return startDovecot(t, false)
}

// StartDovecotTLS starts a Dovecot server with a self-signed certificate made
// for this test: implicit TLS on TLSAddr and STARTTLS on Addr. Plaintext
// login stays allowed on Addr. Clients verify the server with TLSConfig or
// CertPool.
func StartDovecotTLS(t testing.TB) *Dovecot {
	t.Helper()
	return startDovecot(t, true)
}

func startDovecot(t testing.TB, withTLS bool) *Dovecot {
	t.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		t.Fatal("testserver: dovecot not found; install it with: apt-get install -y dovecot-imapd")
	}
	uid, gid, err := lookupIDs("dovecot")
	if err != nil {
		t.Fatalf("testserver: dovecot user missing (is dovecot-imapd installed?): %v", err)
	}
	if _, _, err := lookupIDs("dovenull"); err != nil {
		t.Fatalf("testserver: dovenull user missing (is dovecot-imapd installed?): %v", err)
	}
	dir, err := makeDir("dovecot")
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	d := &Dovecot{
		dir:     dir,
		conf:    filepath.Join(dir, "dovecot.conf"),
		logPath: filepath.Join(dir, "dovecot.log"),
		users:   map[string]string{},
	}
	t.Cleanup(func() {
		d.Kill()
		if t.Failed() {
			t.Logf("testserver: dovecot log tail (%s):\n%s", d.logPath, logTail(d.logPath, 30))
		}
		os.RemoveAll(d.dir)
	})
	mail := filepath.Join(dir, "mail")
	if err := os.Mkdir(mail, 0o755); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	if err := os.Chown(mail, uid, gid); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "users"), 0o755); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	var sslConf string
	if withTLS {
		certPEM, keyPEM, cfg, err := selfSignedCert()
		if err != nil {
			t.Fatalf("testserver: certificate: %v", err)
		}
		d.tls = cfg
		certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
			t.Fatalf("testserver: %v", err)
		}
		if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
			t.Fatalf("testserver: %v", err)
		}
		sslConf = fmt.Sprintf("ssl = yes\nssl_cert = <%s\nssl_key = <%s\n", certPath, keyPath)
	} else {
		sslConf = "ssl = no\n"
	}

	// A free port can be taken by someone else before Dovecot binds it:
	// retry with new ports.
	for attempt := 0; ; attempt++ {
		if d.port, err = freePort(); err != nil {
			t.Fatalf("testserver: %v", err)
		}
		// Ports are free once probed, so the second probe can return the
		// first port again (Dovecot then refuses a duplicate listener).
		for d.tlsPort = 0; withTLS && (d.tlsPort == 0 || d.tlsPort == d.port); {
			if d.tlsPort, err = freePort(); err != nil {
				t.Fatalf("testserver: %v", err)
			}
		}
		conf := dovecotConf(dir, sslConf, d.port, d.tlsPort, uid, gid)
		if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
			t.Fatalf("testserver: %v", err)
		}
		err = d.start(bin)
		if err == nil {
			return d
		}
		if attempt < 3 && strings.Contains(logTail(d.logPath, 20), "Address already in use") {
			continue
		}
		t.Fatalf("testserver: starting dovecot: %v\n%s", err, logTail(d.logPath, 30))
	}
}

func dovecotConf(dir, sslConf string, port, tlsPort, uid, gid int) string {
	return fmt.Sprintf(`protocols = imap
listen = 127.0.0.1
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
%[2]sdisable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = sdbox:~/mail
mail_fsync = never
default_login_user = dovenull
default_internal_user = dovecot
default_internal_group = dovecot
first_valid_uid = 0
mail_max_userip_connections = 1000
imap_idle_notify_interval = 2 mins
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users/%%u
}
userdb {
  driver = static
  args = uid=%[5]d gid=%[6]d home=%[1]s/mail/%%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[3]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[4]d
  }
  chroot =
  process_min_avail = 1
}
service anvil {
  chroot =
  # No auth penalty: repeated failed logins are not slowed down.
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
`, dir, sslConf, port, tlsPort, uid, gid)
}

// start launches the master process and waits for its greeting.
func (d *Dovecot) start(bin string) error {
	p, err := startProc(d.logPath, nil, bin, "-F", "-c", d.conf)
	if err != nil {
		return err
	}
	ready := func() error { return checkGreeting(d.Addr()) }
	if err := p.waitReady("dovecot", 15*time.Second, 10*time.Millisecond, ready); err != nil {
		return err
	}
	d.mu.Lock()
	d.p = p
	d.mu.Unlock()
	return nil
}

// checkGreeting connects to addr and expects Dovecot's IMAP greeting, so a
// foreign server that happens to hold the port is not mistaken for ours.
func checkGreeting(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "* OK") || !strings.Contains(line, "Dovecot") {
		return fmt.Errorf("unexpected greeting %q", line)
	}
	return nil
}

// Addr is the plain IMAP address, "127.0.0.1:PORT" (STARTTLS with TLS on).
func (d *Dovecot) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port)) }

// Port is the plain IMAP port.
func (d *Dovecot) Port() int { return d.port }

// TLSAddr is the implicit-TLS (imaps) address; empty without TLS.
func (d *Dovecot) TLSAddr() string {
	if d.tlsPort == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.tlsPort))
}

// TLSPort is the implicit-TLS (imaps) port; 0 without TLS.
func (d *Dovecot) TLSPort() int { return d.tlsPort }

// TLSConfig returns a client configuration that trusts the server's
// self-signed certificate (valid for 127.0.0.1 and localhost); nil without
// TLS. Each call returns a new copy.
func (d *Dovecot) TLSConfig() *tls.Config {
	if d.tls == nil {
		return nil
	}
	return d.tls.Clone()
}

// CertPool returns a pool holding the server's certificate; nil without TLS.
func (d *Dovecot) CertPool() *x509.CertPool {
	if d.tls == nil {
		return nil
	}
	return d.tls.RootCAs
}

// Dir is the server's directory (config, log, mail).
func (d *Dovecot) Dir() string { return d.dir }

// LogPath is Dovecot's log file.
func (d *Dovecot) LogPath() string { return d.logPath }

// AddUser adds a user, at once usable without a restart. Its mailbox is
// created on first login. Calling it again for an existing user changes the
// password, which Dovecot may take up to a second to notice. User names may
// not contain '/', ':' or line breaks, passwords no ':' or line breaks.
func (d *Dovecot) AddUser(t testing.TB, user, pass string) {
	t.Helper()
	if user == "" || user == "." || user == ".." || strings.ContainsAny(user, "/:\r\n") || strings.ContainsAny(pass, ":\r\n") {
		t.Fatalf("testserver: invalid dovecot user %q or password", user)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[user] = pass
	// One passwd-file per user: Dovecot rereads a changed file at most once
	// a second, but opens a new user's file on first use. Write and rename,
	// so it never reads a half-written file.
	tmp := filepath.Join(d.dir, "users", "."+user+".tmp")
	if err := os.WriteFile(tmp, []byte(user+":{PLAIN}"+pass+"\n"), 0o644); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	if err := os.Rename(tmp, filepath.Join(d.dir, "users", user)); err != nil {
		t.Fatalf("testserver: %v", err)
	}
}

func (d *Dovecot) password(t testing.TB, user string) string {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	pass, ok := d.users[user]
	if !ok {
		t.Fatalf("testserver: dovecot user %q not added (call AddUser first)", user)
	}
	return pass
}

// Dial returns a client logged in as user over plain IMAP; it is closed at
// cleanup. Use it for assertions (select, list UIDs, flags).
func (d *Dovecot) Dial(t testing.TB, user string) *imapclient.Client {
	t.Helper()
	pass := d.password(t, user)
	c, err := imapclient.DialInsecure(d.Addr(), nil)
	if err != nil {
		t.Fatalf("testserver: dial dovecot: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatalf("testserver: login %q: %v", user, err)
	}
	return c
}

// CreateFolder creates a folder for user; an existing folder is not an error.
func (d *Dovecot) CreateFolder(t testing.TB, user, folder string) {
	t.Helper()
	c := d.Dial(t, user)
	defer c.Close()
	if err := createFolder(c, folder); err != nil {
		t.Fatalf("testserver: create %q: %v", folder, err)
	}
}

func createFolder(c *imapclient.Client, folder string) error {
	if strings.EqualFold(folder, "INBOX") {
		return nil
	}
	err := c.Create(folder, nil).Wait()
	var ierr *imap.Error
	if errors.As(err, &ierr) && ierr.Code == imap.ResponseCodeAlreadyExists {
		return nil
	}
	return err
}

// DeleteFolder deletes a folder and its messages. Creating it again gives it
// a new UIDVALIDITY.
func (d *Dovecot) DeleteFolder(t testing.TB, user, folder string) {
	t.Helper()
	c := d.Dial(t, user)
	defer c.Close()
	if err := c.Delete(folder).Wait(); err != nil {
		t.Fatalf("testserver: delete %q: %v", folder, err)
	}
}

// Append stores one message in user's folder (created if missing) with IMAP
// APPEND and returns its UID.
func (d *Dovecot) Append(t testing.TB, user, folder string, raw []byte) uint32 {
	t.Helper()
	c := d.Dial(t, user)
	defer c.Close()
	if err := createFolder(c, folder); err != nil {
		t.Fatalf("testserver: create %q: %v", folder, err)
	}
	cmd := c.Append(folder, int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		t.Fatalf("testserver: append: %v", err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("testserver: append: %v", err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("testserver: append: %v", err)
	}
	if data.UID == 0 {
		t.Fatal("testserver: append: server returned no APPENDUID")
	}
	return uint32(data.UID)
}

// A MULTIAPPEND command carries at most appendBatch messages and, unless it
// is a single message, at most appendBatchBytes.
const (
	appendBatch      = 500
	appendBatchBytes = 32 << 20
)

// appendBatches splits msgs into [start, end) ranges for MULTIAPPEND.
func appendBatches(msgs [][]byte) [][2]int {
	var out [][2]int
	start, size := 0, 0
	for i, m := range msgs {
		if i > start && (i-start == appendBatch || size+len(m) > appendBatchBytes) {
			out = append(out, [2]int{start, i})
			start, size = i, 0
		}
		size += len(m)
	}
	return append(out, [2]int{start, len(msgs)})
}

// AppendMany stores msgs, in order, in user's folder (created if missing) and
// returns their UIDs. It uses one connection, MULTIAPPEND (RFC 3502) with
// non-synchronizing literals, and pipelines the batches, so seeding thousands
// of messages takes seconds.
func (d *Dovecot) AppendMany(t testing.TB, user, folder string, msgs [][]byte) []uint32 {
	t.Helper()
	if len(msgs) == 0 {
		return nil
	}
	d.CreateFolder(t, user, folder)
	uids, err := d.appendMany(user, d.password(t, user), folder, msgs)
	if err != nil {
		t.Fatalf("testserver: append %d messages: %v", len(msgs), err)
	}
	return uids
}

func (d *Dovecot) appendMany(user, pass, folder string, msgs [][]byte) ([]uint32, error) {
	conn, err := net.DialTimeout("tcp", d.Addr(), 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Minute))
	r := bufio.NewReaderSize(conn, 64*1024)
	if _, err := r.ReadString('\n'); err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	w := bufio.NewWriterSize(conn, 256*1024)
	fmt.Fprintf(w, "L LOGIN %s %s\r\n", imapQuote(user), imapQuote(pass))
	if err := w.Flush(); err != nil {
		return nil, err
	}
	if _, err := readTagged(r, "L"); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}

	// Write every batch from one goroutine while this one reads the
	// answers, so the server never waits for a round trip.
	mbox := imapQuote(encodeMailboxName(folder))
	batches := appendBatches(msgs)
	werr := make(chan error, 1)
	go func() {
		for b, r := range batches {
			fmt.Fprintf(w, "A%d APPEND %s", b, mbox)
			for _, m := range msgs[r[0]:r[1]] {
				fmt.Fprintf(w, " {%d+}\r\n", len(m))
				w.Write(m)
			}
			if _, err := w.WriteString("\r\n"); err != nil {
				werr <- err
				return
			}
		}
		werr <- w.Flush()
	}()
	uids := make([]uint32, 0, len(msgs))
	for b := range batches {
		line, err := readTagged(r, "A"+strconv.Itoa(b))
		if err != nil {
			conn.Close() // unblock the writer
			<-werr
			return nil, err
		}
		got, err := parseAppendUID(line)
		if err != nil {
			conn.Close()
			<-werr
			return nil, err
		}
		uids = append(uids, got...)
	}
	if err := <-werr; err != nil {
		return nil, err
	}
	if len(uids) != len(msgs) {
		return nil, fmt.Errorf("server reported %d UIDs for %d messages", len(uids), len(msgs))
	}
	fmt.Fprintf(w, "Z LOGOUT\r\n")
	w.Flush()
	return uids, nil
}

// readTagged reads lines until the tagged answer for tag and returns it; an
// answer other than OK is an error.
func readTagged(r *bufio.Reader, tag string) (string, error) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(line, tag+" ") {
			continue // untagged data; Dovecot sends no literals here
		}
		line = strings.TrimRight(line, "\r\n")
		if !strings.HasPrefix(line[len(tag)+1:], "OK") {
			return "", errors.New(line)
		}
		return line, nil
	}
}

// parseAppendUID extracts the UIDs from "... OK [APPENDUID validity set] ...".
func parseAppendUID(line string) ([]uint32, error) {
	i := strings.Index(line, "[APPENDUID ")
	if i < 0 {
		return nil, fmt.Errorf("no APPENDUID in %q", line)
	}
	f := strings.Fields(strings.SplitN(line[i+1:], "]", 2)[0])
	if len(f) != 3 {
		return nil, fmt.Errorf("bad APPENDUID in %q", line)
	}
	var uids []uint32
	for _, part := range strings.Split(f[2], ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := strconv.ParseUint(lo, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("bad APPENDUID in %q", line)
		}
		bnum := a
		if isRange {
			if bnum, err = strconv.ParseUint(hi, 10, 32); err != nil {
				return nil, fmt.Errorf("bad APPENDUID in %q", line)
			}
		}
		if bnum < a {
			a, bnum = bnum, a
		}
		for u := a; u <= bnum; u++ {
			uids = append(uids, uint32(u))
		}
	}
	return uids, nil
}

// imapQuote makes an IMAP quoted string.
func imapQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// encodeMailboxName encodes a mailbox name in IMAP's modified UTF-7
// (RFC 3501 section 5.1.3).
func encodeMailboxName(s string) string {
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"
	var out strings.Builder
	var pending []rune
	flush := func() {
		if len(pending) == 0 {
			return
		}
		var buf []byte
		for _, u := range utf16.Encode(pending) {
			buf = append(buf, byte(u>>8), byte(u))
		}
		out.WriteByte('&')
		var acc, bits uint
		for _, c := range buf {
			acc = acc<<8 | uint(c)
			bits += 8
			for bits >= 6 {
				bits -= 6
				out.WriteByte(b64[(acc>>bits)&63])
			}
		}
		if bits > 0 {
			out.WriteByte(b64[(acc<<(6-bits))&63])
		}
		out.WriteByte('-')
		pending = pending[:0]
	}
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			flush()
			if r == '&' {
				out.WriteString("&-")
			} else {
				out.WriteRune(r)
			}
			continue
		}
		pending = append(pending, r)
	}
	flush()
	return out.String()
}

// Kill stops the server at once with SIGKILL, as a crash would. Data
// written so far stays; Restart brings the same server back on the same
// ports. Killing a stopped server does nothing.
func (d *Dovecot) Kill() {
	d.mu.Lock()
	p := d.p
	d.p = nil
	d.mu.Unlock()
	p.kill()
}

// Restart kills the server if it runs and starts it again on the same ports
// with the same users and mail.
func (d *Dovecot) Restart(t testing.TB) {
	t.Helper()
	d.Kill()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		t.Fatal("testserver: dovecot not found; install it with: apt-get install -y dovecot-imapd")
	}
	// The old listening sockets close with the last killed process; the
	// kernel may need a moment before the port can be bound again.
	err = retryWhileBusy(d.logPath, func() error { return d.start(bin) }, "Address already in use")
	if err != nil {
		t.Fatalf("testserver: restarting dovecot: %v\n%s", err, logTail(d.logPath, 30))
	}
}

// Running reports whether the server process is alive.
func (d *Dovecot) Running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.p != nil && !d.p.exited()
}
