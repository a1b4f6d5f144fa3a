package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

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
