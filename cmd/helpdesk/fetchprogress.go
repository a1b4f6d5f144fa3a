package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// fetchProgress shows how far `helpdesk fetch` has got: a bar redrawn in
// place when stderr is a terminal, else a log line per batch.
type fetchProgress struct {
	terminal io.Writer // nil: not a terminal, log instead
	log      *slog.Logger
	cur      helpdesk.RunProgress
	last     time.Time // of the previous report (at first the command's start): where the next folder starts
}

func newFetchProgress(stderr io.Writer, logger *slog.Logger) *fetchProgress {
	p := &fetchProgress{log: logger, last: time.Now()}
	if f, ok := stderr.(*os.File); ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		p.terminal = stderr
	}
	return p
}

// report is the fetcher's Job.Progress: called after each batch.
func (p *fetchProgress) report(folder string, done, total int) {
	now := time.Now()
	if folder != p.cur.Folder || done < p.cur.Done {
		// The first report of a folder comes after its first batch: the
		// folder began when the one before it ended.
		p.cur = helpdesk.RunProgress{Folder: folder, StartedAt: p.last}
	}
	p.cur.Done, p.cur.Total, p.cur.UpdatedAt = done, total, now
	p.last = now
	if p.terminal == nil {
		eta, _ := p.cur.ETA()
		p.log.Info("fetch progress", "folder", folder, "done", done, "total", total, "left", p.cur.Left(),
			"rate_per_s", fmt.Sprintf("%.1f", p.cur.Rate()), "eta", eta)
		return
	}
	fmt.Fprint(p.terminal, "\r"+progressBar(p.cur, 30)+"\x1b[K") // \x1b[K: erase the rest of a longer line before
	if done >= total {
		fmt.Fprintln(p.terminal)
	}
}

// progressBar renders one line of progress, its bar width cells wide:
//
//	INBOX [#########-----------]  4500/10000  850/s  ETA 6s
func progressBar(p helpdesk.RunProgress, width int) string {
	filled := 0
	if p.Total > 0 {
		filled = min(p.Done*width/p.Total, width)
	}
	eta := "ETA ?"
	if d, ok := p.ETA(); ok {
		eta = "ETA " + d.String()
	}
	if p.Done >= p.Total {
		eta = "done"
	}
	return fmt.Sprintf("%s [%s%s] %d/%d  %.0f/s  %s", p.Folder,
		strings.Repeat("#", filled), strings.Repeat("-", width-filled), p.Done, p.Total, p.Rate(), eta)
}
