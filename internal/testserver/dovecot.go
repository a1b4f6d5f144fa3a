package testserver

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
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
	return startDovecot(t, false, "")
}

// StartDovecotWithoutIdle starts a Dovecot server without TLS that does
// not offer IDLE (its capabilities are Dovecot's defaults minus IDLE), as
// some servers do: clients must poll.
func StartDovecotWithoutIdle(t testing.TB) *Dovecot {
	t.Helper()
	return startDovecot(t, false, "imap_capability = "+capabilitiesWithoutIdle+"\n")
}

// capabilitiesWithoutIdle are Dovecot 2.3's post-login capabilities minus IDLE
// (TestDovecotWithoutIdle compares them with the server's).
const capabilitiesWithoutIdle = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY " +
	"THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT " +
	"CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES " +
	"WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE " +
	"SAVEDATE LITERAL+ NOTIFY"

// StartDovecotTLS starts a Dovecot server with a self-signed certificate made
// for this test: implicit TLS on TLSAddr and STARTTLS on Addr. Plaintext
// login stays allowed on Addr. Clients verify the server with TLSConfig or
// CertPool.
func StartDovecotTLS(t testing.TB) *Dovecot {
	t.Helper()
	return startDovecot(t, true, "")
}

// startDovecot starts a server; extraConf is appended to its configuration.
func startDovecot(t testing.TB, withTLS bool, extraConf string) *Dovecot {
	t.Helper()
	return startDovecotAuth(t, withTLS, "", extraConf)
}

// startDovecotAuth starts a server; authConf comes before its passwd-file
// passdb (auth settings and passdbs tried first), extraConf after all.
func startDovecotAuth(t testing.TB, withTLS bool, authConf, extraConf string) *Dovecot {
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
		conf := dovecotConf(dir, sslConf, authConf, d.port, d.tlsPort, uid, gid) + extraConf
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

func dovecotConf(dir, sslConf, authConf string, port, tlsPort, uid, gid int) string {
	if authConf == "" {
		authConf = "auth_mechanisms = plain login\n"
	}
	return fmt.Sprintf(`protocols = imap
listen = 127.0.0.1
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
%[2]sdisable_plaintext_auth = no
%[7]sauth_failure_delay = 0
mail_location = sdbox:~/mail
mail_fsync = never
default_login_user = dovenull
default_internal_user = dovecot
default_internal_group = dovecot
first_valid_uid = 0
mail_max_userip_connections = 1000
imap_idle_notify_interval = 2 mins
# IDLE learns of new mail from inotify, whose instances (128 per user by
# default) the tests' many imap processes, all of user dovecot, can use
# up; then Dovecot falls back to looking every this often (default 30 s).
mailbox_idle_check_interval = 1 secs
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
`, dir, sslConf, port, tlsPort, uid, gid, authConf)
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
