package e2e

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// A first import of 2,000 messages, held half-way: the mailbox's
// status in the API shows what is done and left, a rate and an ETA, read
// from the store (as a web server in another process would); the status
// pages show it as a bar; after the run it is gone.
func TestFirstImportShowsProgress(t *testing.T) {
	testserver.SkipShort(t, "Dovecot, 2,000 messages")
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			testFirstImportShowsProgress(t, dialect, dialect == "sqlite")
		})
	}
}

func testFirstImportShowsProgress(t *testing.T, dialect string, inChromium bool) {
	const total, batch = 2000, 500
	e := setup(t, dialect)
	d := testserver.StartDovecot(t)
	d.AddUser(t, "support", "secret-pass")
	raws, ids := teststore.Mails("import", 0, total, 300)
	d.AppendMany(t, "support", "INBOX", raws)
	mb := dovecotMailbox(t, e, d, "support")

	// The run stops half-way, after a batch, until the test has looked.
	halfWay, resume := make(chan int, 1), make(chan struct{})
	resumeOnce := sync.OnceFunc(func() { close(resume) })
	t.Cleanup(resumeOnce) // should the test fail while the run waits
	job := fetcher.Job{MailboxID: mb, Trigger: "test", Progress: func(_ string, done, _ int) {
		if done == total/2 {
			halfWay <- done
			<-resume
		}
	}}
	type result struct {
		sum fetcher.Summary
		err error
	}
	finished := make(chan result, 1)
	go func() {
		f := fetcher.New(e.store, fetcher.Config{Holder: "test", BatchSize: batch})
		sum, err := f.RunLeased(context.Background(), e.local, job)
		finished <- result{sum, err}
	}()
	select {
	case <-halfWay:
	case r := <-finished:
		t.Fatalf("the run ended before half-way: %+v %v", r.sum, r.err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the import did not get half-way within 2 minutes")
	}

	status, body, _ := e.call(t, e.adminToken, "GET", "/api/v1/mailboxes/"+itoa(mb)+"/status", "")
	if status != 200 {
		t.Fatalf("status: %d %v", status, body)
	}
	if _, ok := body["lock"]; !ok {
		t.Errorf("the status lost its lock field: %v", body)
	}
	p, ok := body["progress"].(map[string]any)
	if !ok {
		t.Fatalf("no progress half-way through the import: %v", body["progress"])
	}
	num := func(k string) float64 {
		v, ok := p[k].(float64)
		if !ok {
			t.Fatalf("progress.%s = %v, want a number (progress %v)", k, p[k], p)
		}
		return v
	}
	done, all, left, rate, eta := num("done"), num("total"), num("left"), num("rate_per_s"), num("eta_s")
	if p["folder"] != "INBOX" || done != total/2 || all != total || left != all-done {
		t.Errorf("progress %v: want INBOX, %d done of %d, %d left", p, total/2, total, total/2)
	}
	if rate <= 0 {
		t.Errorf("rate %v/s half-way, want > 0", rate)
	}
	if want := left / rate; math.Abs(eta-want) > 1+want*0.01 { // rate_per_s is rounded to 0.1
		t.Errorf("eta %v s, want left/rate = %.1f s", eta, want)
	}
	started, err1 := time.Parse(time.RFC3339Nano, p["started_at"].(string))
	updated, err2 := time.Parse(time.RFC3339Nano, p["updated_at"].(string))
	if err1 != nil || err2 != nil || !updated.After(started) || time.Since(started) > 5*time.Minute {
		t.Errorf("started_at %v, updated_at %v: want updated after started, both recent (%v %v)", p["started_at"], p["updated_at"], err1, err2)
	}

	if inChromium {
		lookInChromium(t, e, mb)
	}

	resumeOnce()
	var r result
	select {
	case r = <-finished:
	case <-time.After(2 * time.Minute):
		t.Fatal("the import did not finish within 2 minutes")
	}
	if r.err != nil || r.sum.New != total {
		t.Fatalf("run: %+v %v, want %d new", r.sum, r.err, total)
	}
	teststore.RequireExactlyOnce(t, e.store, mb, ids)
	if _, body, _ := e.call(t, e.adminToken, "GET", "/api/v1/mailboxes/"+itoa(mb)+"/status", ""); body["progress"] != nil || !hasKey(body, "progress") {
		t.Errorf("progress after the run: %v, want null", body["progress"])
	}
}

// lookInChromium opens the status page and the mailbox page at a phone's
// and a desktop's width: each shows the import's bar, with done/total, in
// the mailbox's row. Screenshots go to the test's artifact directory
// (go test -artifacts).
func lookInChromium(t *testing.T, e *env, mb int64) {
	t.Helper()
	bctx := browser(t)
	ctx, cancel := context.WithTimeout(bctx, time.Minute)
	defer cancel()
	token, _, err := e.store.CreateSession(ctx, e.admin.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	httpOnly := true
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
		Name: sessionCookie, Value: token, URL: e.ts.URL, Path: "/", HTTPOnly: &httpOnly,
	}); err != nil {
		t.Fatal(err)
	}
	for _, page := range []struct{ name, path, bar string }{
		{"status", "/admin/status", `tr[data-mailbox="` + itoa(mb) + `"] [data-field=progress]`},
		{"mailbox", "/admin/mailboxes/" + itoa(mb), `#mailbox [data-field=progress]`},
	} {
		for _, width := range []int64{390, 1280} {
			at := page.name + " at " + itoa(width) + " px"
			err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900), chromedp.Navigate(e.ts.URL+page.path), chromedp.WaitVisible(page.bar))
			if err != nil {
				t.Fatalf("%s: %v", at, err)
			}
			text, err := chromedp.Run(ctx, chromedp.Text(page.bar))
			if err != nil {
				t.Fatalf("%s: %v", at, err)
			}
			barWidth, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector(`+"`"+page.bar+" progress`"+`).getBoundingClientRect().width`))
			if err != nil {
				t.Fatalf("%s: %v", at, err)
			}
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("%s: %v", at, err)
			}
			if !strings.Contains(text, "1000/2000") || !strings.Contains(text, "1000 left") || !strings.Contains(text, "ETA") || strings.Contains(text, "unknown") {
				t.Errorf("%s: the bar says %q, want 1000/2000, 1000 left and an ETA", at, text)
			}
			if barWidth < 50 {
				t.Errorf("%s: the bar is %.0f px wide", at, barWidth)
			}
			name := filepath.Join(t.ArtifactDir(), page.name+"-"+itoa(width)+".png")
			if err := os.WriteFile(name, png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}
