package testserver

// A Dovecot for fleet tests and benchmarks: hundreds of users, one IMAP
// connection each held open at once, and mail delivered to many of them at
// once.

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DovecotFleetOptions are what StartDovecotFleet changes from StartDovecot.
type DovecotFleetOptions struct {
	// Connections is how many IMAP connections the server must hold open
	// at once (one imap process each; Dovecot's default allows 100).
	Connections int
}

// StartDovecotFleet starts a Dovecot server without TLS for many mailboxes
// at once. For many connections it raises the limits on processes, clients
// and open files (of this test process too, which its children inherit),
// and logs users in through a few long-lived login processes instead of
// one process per login.
func StartDovecotFleet(t testing.TB, opts DovecotFleetOptions) *Dovecot {
	t.Helper()
	if opts.Connections > 0 {
		raiseOpenFileLimit(t)
	}
	return startDovecot(t, false, fleetConf(opts))
}

func fleetConf(opts DovecotFleetOptions) string {
	n := opts.Connections
	if n == 0 {
		return ""
	}
	// Room for the connections plus the tests' own short ones.
	procs := n + n/2 + 100
	return fmt.Sprintf(`default_process_limit = %[1]d
default_client_limit = %[2]d
mail_max_userip_connections = %[1]d
service imap {
  process_limit = %[1]d
}
service imap-login {
  service_count = 0
  process_min_avail = 2
}
`, procs, 2*procs+100)
}

// raiseOpenFileLimit sets this process's open-file limit to its hard limit.
// The Go runtime raises it too, but gives child processes the original
// limit back unless the program sets it itself; Dovecot and the helpdesk
// processes of a fleet test need the higher one.
func raiseOpenFileLimit(t testing.TB) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("testserver: getrlimit: %v", err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("testserver: setrlimit: %v", err)
	}
}

// AddUsers adds many users (name to password) at once, each as AddUser
// does: no restart, usable at once.
func (d *Dovecot) AddUsers(t testing.TB, users map[string]string) {
	t.Helper()
	for user, pass := range users {
		d.AddUser(t, user, pass)
	}
}

// appendEachWorkers is how many connections AppendEach uses at once.
const appendEachWorkers = 16

// AppendEach appends one message to the folder of each user (user to
// message), many users at once over separate connections, and returns
// when the server confirmed each APPEND (its tagged OK): the moment the
// message is in the mailbox. The folder must exist (INBOX always does).
func (d *Dovecot) AppendEach(t testing.TB, folder string, mails map[string][]byte) map[string]time.Time {
	t.Helper()
	return d.StartAppendEach(t, folder, mails).Wait(t)
}

// Appends are the APPENDs of StartAppendEach under way.
type Appends struct {
	done  chan struct{}
	times map[string]time.Time
	err   error
}

// Done is closed when every APPEND has been answered.
func (a *Appends) Done() <-chan struct{} { return a.done }

// Wait waits for the APPENDs and returns when each was confirmed, by user.
// It fails the test if one failed.
func (a *Appends) Wait(t testing.TB) map[string]time.Time {
	t.Helper()
	<-a.done
	if a.err != nil {
		t.Fatalf("testserver: %v", a.err)
	}
	return a.times
}

// StartAppendEach is AppendEach in the background, so that the test can
// watch something else meanwhile.
func (d *Dovecot) StartAppendEach(t testing.TB, folder string, mails map[string][]byte) *Appends {
	t.Helper()
	type job struct {
		user, pass string
		raw        []byte
	}
	jobs := make(chan job, len(mails))
	for user, raw := range mails {
		jobs <- job{user, d.password(t, user), raw}
	}
	close(jobs)
	a := &Appends{done: make(chan struct{}), times: make(map[string]time.Time, len(mails))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(appendEachWorkers, len(mails)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				_, err := d.appendMany(j.user, j.pass, folder, [][]byte{j.raw})
				at := time.Now()
				mu.Lock()
				if err != nil && a.err == nil {
					a.err = fmt.Errorf("append for %s: %w", j.user, err)
				}
				a.times[j.user] = at
				mu.Unlock()
			}
		}()
	}
	go func() {
		wg.Wait()
		close(a.done)
	}()
	return a
}
