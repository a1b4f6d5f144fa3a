package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// `helpdesk fetch` in its own process stores its progress, which another
// process (the test, as the web would) reads: held mid-import (SIGSTOP),
// it shows done < total, a rate and an ETA; once the fetch is done, none.
// Its stderr, not a terminal, has a log line per batch.
func TestFetchProgressSeenFromAnotherProcess(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot, 2,000 messages")
	const total, batch = 2000, 500 // batch: the fetcher's default
	d := testserver.StartDovecot(t)
	w := newWorld(t, teststore.URL(t, "sqlite"))
	id := w.addMailbox(d, "support", "secret-pass")
	raws, ids := teststore.Mails("progress", 0, total, 300)
	d.AppendMany(t, "support", "INBOX", raws)
	ctx := context.Background()

	p := w.start(nil, "fetch", "--mailbox", itoa(id))
	// Caught at least two batches before the end, so the fetch cannot
	// finish before SIGSTOP lands.
	waitFor(t, 2*time.Minute, "progress stored by the fetch", func() bool {
		pr, err := w.store.RunProgress(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return (pr != nil && pr.Done > 0 && pr.Done <= total-2*batch) || p.exited()
	})
	p.stop(t)
	pr, err := w.store.RunProgress(ctx, id)
	if err != nil || pr == nil {
		t.Fatalf("progress of the stopped fetch: %+v, %v", pr, err)
	}
	eta, etaKnown := pr.ETA()
	if pr.Folder != "INBOX" || pr.Total != total || pr.Done <= 0 || pr.Done >= total || pr.Left() != total-pr.Done ||
		pr.Rate() <= 0 || !etaKnown || eta <= 0 {
		t.Errorf("progress mid-import %+v: rate %g/s, ETA %s (%v); want INBOX, 0 < done < %d, a rate and an ETA", *pr, pr.Rate(), eta, etaKnown, total)
	}
	p.signal(syscall.SIGCONT)
	if code := p.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("fetch exited %d:\n%s", code, p.failureLog())
	}
	if pr, err := w.store.RunProgress(ctx, id); err != nil || pr != nil {
		t.Errorf("progress after the fetch: %+v, %v; want none", pr, err)
	}
	teststore.RequireExactlyOnce(t, w.store, id, ids)
	log := p.Log()
	if !strings.Contains(log, `msg="fetch progress" folder=INBOX done=500 total=2000 left=1500`) || strings.Contains(log, "\r") {
		t.Errorf("stderr lacks the plain progress lines:\n%s", tail(log, 3000))
	}
}

func TestProgressBar(t *testing.T) {
	start := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	at := func(done, total int, elapsed time.Duration) helpdesk.RunProgress {
		return helpdesk.RunProgress{Folder: "INBOX", Done: done, Total: total, StartedAt: start, UpdatedAt: start.Add(elapsed)}
	}
	for _, c := range []struct {
		p    helpdesk.RunProgress
		want string
	}{
		{at(0, 40000, 0), "INBOX [--------------------] 0/40000  0/s  ETA ?"},
		{at(10000, 40000, 25*time.Second), "INBOX [#####---------------] 10000/40000  400/s  ETA 1m15s"},
		{at(38000, 40000, 95*time.Second), "INBOX [###################-] 38000/40000  400/s  ETA 5s"},
		{at(40000, 40000, 100*time.Second), "INBOX [####################] 40000/40000  400/s  done"},
		{at(3010, 3000, 2*time.Second), "INBOX [####################] 3010/3000  1505/s  done"},
	} {
		if got := progressBar(c.p, 20); got != c.want {
			t.Errorf("progressBar(%d/%d) =\n%q, want\n%q", c.p.Done, c.p.Total, got, c.want)
		}
	}
}

// On a terminal the bar is redrawn in place and ends its line when the
// folder is done; the first folder starts with the command.
func TestFetchProgressOnATerminal(t *testing.T) {
	var out bytes.Buffer
	p := &fetchProgress{terminal: &out, last: time.Now().Add(-time.Second)}
	p.report("INBOX", 500, 1000)
	p.report("INBOX", 1000, 1000)
	p.report("Sales", 3, 3)
	lines := strings.Split(out.String(), "\n")
	if len(lines) != 3 || lines[2] != "" {
		t.Fatalf("output %q: want two lines, one per folder", out.String())
	}
	redraws := strings.Split(lines[0], "\r")
	half, full := "INBOX ["+strings.Repeat("#", 15)+strings.Repeat("-", 15)+"]", "INBOX ["+strings.Repeat("#", 30)+"]"
	if len(redraws) != 3 || !strings.HasPrefix(redraws[1], half) || !strings.HasPrefix(redraws[2], full) {
		t.Errorf("first folder's line %q: want the bar drawn at half, then redrawn full", lines[0])
	}
	if !strings.Contains(redraws[1], " 500/1000 ") || !strings.Contains(redraws[1], "ETA ") || strings.Contains(redraws[1], "ETA ?") {
		t.Errorf("%q: want done/total and an ETA (the folder started a second before)", redraws[1])
	}
	if !strings.HasPrefix(lines[1], "\rSales ["+strings.Repeat("#", 30)+"] 3/3 ") || !strings.Contains(lines[1], "done") {
		t.Errorf("second folder's line %q", lines[1])
	}
}

// Elsewhere (a pipe, a log file) each report is one log line.
func TestFetchProgressLogsWithoutATerminal(t *testing.T) {
	var out bytes.Buffer
	p := &fetchProgress{log: slog.New(slog.NewTextHandler(&out, nil)), last: time.Now().Add(-time.Second)}
	p.report("INBOX", 500, 2000)
	got := out.String()
	for _, want := range []string{"msg=\"fetch progress\"", "folder=INBOX", "done=500", "total=2000", "left=1500", "rate_per_s=", "eta="} {
		if !strings.Contains(got, want) {
			t.Errorf("log line %q lacks %s", got, want)
		}
	}
	if strings.Contains(got, "\r") || strings.Count(got, "\n") != 1 {
		t.Errorf("log line %q: want one plain line", got)
	}
}
