package notifier

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/internal/teststore"
)

// notifierProc is a notifier in a process of its own
// (testdata/notifierproc), so that it can be SIGKILLed mid-send.
type notifierProc struct {
	cmd *exec.Cmd
	log string
}

func buildNotifierProc(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "notifierproc")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/notifierproc").CombinedOutput()
	if err != nil {
		t.Fatalf("build notifierproc: %v\n%s", err, out)
	}
	return bin
}

func startNotifierProc(t *testing.T, bin string, e *env, instance string, lease time.Duration) *notifierProc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), instance+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "HELPDESK_DATABASE_URL="+e.url, "HELPDESK_SMTP_URL="+e.sink.URL(), "HELPDESK_SECRET_KEY="+teststore.SecretKey,
		"NOTIFIER_INSTANCE="+instance, "NOTIFIER_LEASE="+lease.String())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The kernel kills it if the test binary dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &notifierProc{cmd: cmd, log: logPath}
	t.Cleanup(func() { p.signal(syscall.SIGKILL) })
	return p
}

// signal sends sig and waits for the process to end.
func (p *notifierProc) signal(sig syscall.Signal) {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(sig)
	p.cmd.Wait()
}

// TestKillMidSend: a notifier process is SIGKILLed while the server is
// taking a mail's DATA, then started again. No mail is lost; the mail the
// server accepted after the kill (its 250 went nowhere) is sent again with
// the same Message-ID and the same bytes; nothing else arrives twice.
func TestKillMidSend(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a process")
	}
	t.Parallel()
	bin := buildNotifierProc(t)
	e := setup(t, "postgres", 2)
	e.ingestNew(t, 20)
	want := 20 * 2
	e.sink.Delay(300 * time.Millisecond)
	const lease = 2 * time.Second

	p := startNotifierProc(t, bin, e, "crashy", lease)
	e.sink.WaitMessages(t, 5, time.Minute)
	// Kill while a DATA is in the sink (it accepts it after the delay).
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for e.sink.Attempts() <= len(e.sink.Messages()) {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("no DATA in flight within a minute")
		}
	}
	// DATA started; its body (a few hundred bytes) is read well within
	// 100ms, then the sink holds its 250 back for 300ms: kill in there.
	time.Sleep(100 * time.Millisecond)
	p.signal(syscall.SIGKILL)
	killedAt := len(e.sink.Messages())

	p2 := startNotifierProc(t, bin, e, "crashy", lease)
	waitDistinct(t, e.sink, want, 2*time.Minute)
	total, distinct := checkDelivered(t, e)
	p2.signal(syscall.SIGTERM)
	if code := p2.cmd.ProcessState.ExitCode(); code != 0 {
		log, _ := os.ReadFile(p2.log)
		t.Fatalf("restarted notifier exited %d after SIGTERM:\n%s", code, log)
	}
	if distinct != want {
		t.Fatalf("%d distinct mails, want %d: mail lost", distinct, want)
	}
	// The resends: same Message-ID, same bytes; at most the sends in
	// flight at the kill (2 workers) arrive twice.
	byID := map[string][]byte{}
	dups := 0
	for _, m := range e.sink.Messages() {
		if prev, ok := byID[m.MessageID]; ok {
			dups++
			if !bytes.Equal(prev, m.Data) {
				t.Errorf("resend of %s differs from the first send", m.MessageID)
			}
			continue
		}
		byID[m.MessageID] = m.Data
	}
	if dups == 0 || dups > 2 || total != distinct+dups {
		t.Fatalf("total %d, distinct %d, resends %d: want 1 or 2 resends (the DATA in flight at the kill)", total, distinct, dups)
	}
	t.Logf("killed after %d mails; %d mails, %d resent with the same Message-ID", killedAt, distinct, dups)
}
