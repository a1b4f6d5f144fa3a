package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// A service told to stop while it starts (SIGTERM in a rolling restart,
// here once it has connected to the database, before its services are up)
// stops as asked: exit 0, not a failure with "context canceled".
func TestServeStoppedWhileStarting(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "PostgreSQL")
	w := newWorld(t, teststore.URL(t, "postgres"))
	for round := range 3 {
		p := w.start(nil, "serve", "--roles", "fetcher")
		waitFor(t, 30*time.Second, "the process to connect", func() bool { return p.hasSocket() || p.exited() })
		p.signal(syscall.SIGTERM)
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("round %d: stopped while starting, exit %d:\n%s", round, code, p.failureLog())
		}
	}
}

// hasSocket says the process has a socket open: its first is the
// database's, opened after it began handling SIGTERM and SIGINT.
func (p *proc) hasSocket() bool {
	dir := fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && strings.HasPrefix(target, "socket:") {
			return true
		}
	}
	return false
}
