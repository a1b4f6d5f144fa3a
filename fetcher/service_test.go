package fetcher_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
	"github.com/helpdesk/helpdesk/locks"
)

// startService starts a service on the env's in-process locker, with the
// embedded fleet (this instance alone).
func startService(t *testing.T, e *env, cfg fetcher.ServiceConfig) *fetcher.Service {
	t.Helper()
	local := e.locker.(*locks.Local)
	if cfg.Fleet == nil {
		cfg.Fleet = local.Fleet()
	}
	svc := fetcher.NewService(e.fetcher, local, local.Inspector(), cfg)
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	return svc
}

// waitWatched waits until the service watches n mailboxes: each has its
// session open and its first run done.
func waitWatched(t *testing.T, svc *fetcher.Service, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for svc.Watched() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d mailboxes watched (%d owned) after %s, want %d", svc.Watched(), svc.Owned(), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStored polls the database quickly until the message is stored.
func waitStored(t *testing.T, e *env, id string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for e.audit().StoredMessageIDs[id] == 0 {
		if time.Since(start) > timeout {
			t.Fatalf("message %s not stored within %s", id, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// waitRunsFinished polls until the mailbox's latest run is finished and at
// least n runs were started, and returns the runs, latest first.
func waitRunsFinished(t *testing.T, e *env, n int, timeout time.Duration) []helpdesk.FetchRun {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		runs, err := e.store.RecentRuns(context.Background(), e.mailbox, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) >= n && runs[0].FinishedAt != nil {
			return runs
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs %+v: want %d, the latest finished, within %s", runs, n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The service fetches on schedule, then IDLEs holding the lease: new mail
// is stored within seconds, long before the poll interval.
func TestServiceIdlePicksUpNewMail(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	e := setup(t, "sqlite", func(in *helpdesk.MailboxInput) { in.PollIntervalS = 600 })
	raw, id := teststore.Mail("msg", 1, 500)
	e.dovecot.Append(t, e.user, "INBOX", raw)
	svc := startService(t, e, fetcher.ServiceConfig{})
	waitStored(t, e, id, time.Minute) // the first run, at once
	waitWatched(t, svc, 1, 10*time.Second)

	inspector := e.locker.(*locks.Local).Inspector()
	st, err := inspector.Inspect(context.Background(), e.mailbox)
	if err != nil || !st.Held {
		t.Fatalf("while idling the service holds the lease: %+v %v", st, err)
	}
	for i := 2; i <= 4; i++ {
		raw, id := teststore.Mail("msg", i, 500)
		e.dovecot.Append(t, e.user, "INBOX", raw)
		if took := waitStored(t, e, id, 10*time.Second); took > 3*time.Second {
			t.Errorf("IDLE: new mail stored after %s", took)
		}
	}
	runs, _ := e.store.RecentRuns(context.Background(), e.mailbox, 10)
	if len(runs) < 4 || runs[0].Trigger != "idle" {
		t.Fatalf("runs %+v: want the latest triggered by idle", runs)
	}
}

// An IDLE mailbox where nothing arrives costs the database nothing: when
// IDLE runs out its interval, a STATUS of each folder tells that nothing
// changed and no run (no fetch_runs row) is written. Mail to the second
// folder, which IDLE does not watch, shows in that STATUS and is stored
// within an interval or so; mail to the first is still stored by IDLE.
func TestServiceIdleRunsOnlyWhenAFolderChanged(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	const interval = 5 * time.Second // the least a mailbox may have
	e := setup(t, "sqlite", func(in *helpdesk.MailboxInput) {
		in.PollIntervalS = int(interval / time.Second)
		in.Folders = []string{"INBOX", "Sales"}
	})
	e.dovecot.CreateFolder(t, e.user, "Sales")
	svc := startService(t, e, fetcher.ServiceConfig{})
	waitWatched(t, svc, 1, time.Minute)
	first := waitRunsFinished(t, e, 1, 10*time.Second)

	// Watch three intervals pass in quiet.
	for quiet := time.Now().Add(3*interval + interval/2); time.Now().Before(quiet); time.Sleep(100 * time.Millisecond) {
		if runs, err := e.store.RecentRuns(context.Background(), e.mailbox, 10); err != nil || len(runs) != len(first) {
			t.Fatalf("runs %+v (%v) while no mail came: want only the first run %+v", runs, err, first)
		}
	}

	raw, id := teststore.Mail("sales", 1, 500)
	e.dovecot.Append(t, e.user, "Sales", raw)
	waitStored(t, e, id, 2*interval)
	if runs := waitRunsFinished(t, e, 2, 10*time.Second); len(runs) != 2 || runs[0].Trigger != "schedule" || runs[0].New != 1 {
		t.Fatalf("runs %+v: want the first, then the interval's run storing the mail to the second folder", runs)
	}

	raw, inboxID := teststore.Mail("inbox", 2, 500)
	e.dovecot.Append(t, e.user, "INBOX", raw)
	waitStored(t, e, inboxID, 10*time.Second)
	runs := waitRunsFinished(t, e, 3, 10*time.Second)
	if len(runs) != 3 || runs[0].Trigger != "idle" || runs[0].New != 1 {
		t.Fatalf("runs %+v: want the latest triggered by IDLE, storing the mail to the first folder", runs)
	}
	teststore.RequireExactlyOnce(t, e.store, e.mailbox, []string{id, inboxID})
}

// An admin's retry of a quarantined message is served within seconds on a
// watched mailbox where no mail comes (no run on the interval would serve
// it): the retry requests a fetch.
func TestServiceRetriesQuarantinedOnAQuietMailbox(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	e := setup(t, "sqlite", func(in *helpdesk.MailboxInput) {
		in.PollIntervalS = 600
		in.MaxMessageBytes = 1024
	})
	raw, id := teststore.Mail("big", 1, 4000)
	e.dovecot.Append(t, e.user, "INBOX", raw)
	svc := startService(t, e, fetcher.ServiceConfig{})
	waitWatched(t, svc, 1, time.Minute)
	qs, err := e.store.Quarantined(context.Background(), e.mailbox)
	if err != nil || len(qs) != 1 {
		t.Fatalf("quarantine %+v (%v): want the mail over the limit", qs, err)
	}
	m, _ := e.store.Mailbox(context.Background(), e.mailbox)
	in := mailboxInputOf(m)
	in.MaxMessageBytes = 1 << 20
	if err := e.store.UpdateMailbox(context.Background(), e.mailbox, in); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RetryQuarantined(context.Background(), qs[0].ID); err != nil {
		t.Fatal(err)
	}
	waitStored(t, e, id, 10*time.Second)
	teststore.RequireExactlyOnce(t, e.store, e.mailbox, []string{id})
}

// "Fetch now" is a request the service runs within about a second, over
// the session it keeps open, through the same lease as scheduled runs. The
// server has no IDLE and the poll interval is an hour: only the request can
// bring the mail in.
func TestServiceRunsFetchRequests(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	d := testserver.StartDovecotWithoutIdle(t)
	e := setupWith(t, d, teststore.Open(t, "sqlite"), func(in *helpdesk.MailboxInput) { in.PollIntervalS = 3600 })
	svc := startService(t, e, fetcher.ServiceConfig{})
	waitWatched(t, svc, 1, 30*time.Second)
	raw, id := teststore.Mail("msg", 1, 500)
	e.dovecot.Append(t, e.user, "INBOX", raw)
	if err := e.store.RequestFetch(context.Background(), e.mailbox, "admin@example.test"); err != nil {
		t.Fatal(err)
	}
	took := waitStored(t, e, id, 10*time.Second)
	if took > 3*time.Second {
		t.Errorf("requested fetch took %s", took)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, open, _ := e.store.FetchChanges(context.Background()); len(open) != 0; _, open, _ = e.store.FetchChanges(context.Background()) {
		if time.Now().After(deadline) {
			t.Fatalf("request still open after the run: %v", open)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The first run, then one for the request (the tick may wake it once
	// more while the request is being closed), all under the one lease.
	runs, _ := e.store.RecentRuns(context.Background(), e.mailbox, 10)
	served := false
	for _, r := range runs {
		served = served || (r.Trigger == "manual" && r.New == 1)
		if r.Fence != runs[0].Fence {
			t.Fatalf("runs %+v: want all under the one lease's fence", runs)
		}
	}
	if !served || runs[len(runs)-1].Trigger != "schedule" {
		t.Fatalf("runs %+v: want the first run, then the request's run storing the mail", runs)
	}
}

// Stop ends a running fetch after its current message: everything stored is
// committed, the lease is released, and it returns within seconds.
func TestServiceStopsGracefully(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	e := setup(t, "sqlite", nil)
	raws, ids := teststore.Mails("msg", 0, 300, 2000)
	e.dovecot.AppendMany(t, e.user, "INBOX", raws)
	e.fetcher = fetcher.New(e.store, fetcher.Config{Holder: "test", BatchSize: 50})
	// The stop comes after the first batch is committed, while the run
	// goes on: the run waits for it there.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	firstBatch := make(chan struct{}, 1)
	svc := startService(t, e, fetcher.ServiceConfig{Progress: func(int64, string, int, int) {
		select {
		case firstBatch <- struct{}{}:
			<-ctx.Done()
		default:
		}
	}})
	select {
	case <-firstBatch:
	case <-time.After(time.Minute):
		t.Fatal("no batch committed within a minute")
	}
	stopped := time.Now()
	stop()
	svc.Stop()
	if took := time.Since(stopped); took > 5*time.Second {
		t.Fatalf("Stop took %s, want under 5 s", took)
	}
	local := e.locker.(*locks.Local)
	st, _ := local.Inspector().Inspect(context.Background(), e.mailbox)
	if st.Held {
		t.Fatalf("lease still held after Stop: %+v", st)
	}
	a := e.audit()
	if n := len(a.StoredMessageIDs); n == 0 || n == len(ids) {
		t.Fatalf("%d of %d stored: the test did not stop mid-run", n, len(ids))
	}
	// The next run completes the mailbox: nothing lost, nothing twice.
	e.fetch()
	teststore.RequireExactlyOnce(t, e.store, e.mailbox, ids)
}

// A mailbox with two folders IDLEs on the first. Mail that reaches it while
// the run is busy with the second is reported by the re-SELECT, not by an
// EXISTS during IDLE; it is still stored at once, not at the next poll.
func TestServiceMultiFolderMailDuringRunIsNotLeftToThePoll(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	e := setup(t, "sqlite", func(in *helpdesk.MailboxInput) {
		in.PollIntervalS = 240 // the first run comes at once; the next poll 4 minutes later
		in.Folders = []string{"INBOX", "Sales"}
	})
	e.dovecot.CreateFolder(t, e.user, "Sales")
	raws, ids := teststore.Mails("sales", 0, 20, 2000)
	e.dovecot.AppendMany(t, e.user, "Sales", raws)
	// The scheduled run (no fetch request: its wake-up would hide the
	// case) waits inside the second folder until the first one got mail.
	inSales, mailed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	mailedDone := sync.OnceFunc(func() { close(mailed) })
	startService(t, e, fetcher.ServiceConfig{Progress: func(_ int64, folder string, _, _ int) {
		if folder == "Sales" {
			once.Do(func() {
				inSales <- struct{}{}
				<-mailed
			})
		}
	}})
	t.Cleanup(mailedDone) // before the service stops, should the test fail
	select {
	case <-inSales:
	case <-time.After(time.Minute):
		t.Fatal("the first run did not reach the second folder")
	}
	raw, id := teststore.Mail("inbox", 1, 500)
	e.dovecot.Append(t, e.user, "INBOX", raw)
	mailedDone()
	waitStored(t, e, id, time.Minute)
	teststore.RequireExactlyOnce(t, e.store, e.mailbox, append(ids, id))
	runs := waitRunsFinished(t, e, 2, 10*time.Second)
	if len(runs) != 2 || runs[0].Trigger != "idle" || runs[0].New != 1 {
		t.Fatalf("runs %+v: want the scheduled one, then one for the new mail", runs)
	}
}

// TestStopDoesNotWaitForADeadServer: a server that accepts the connection
// and never greets (a hung or black-holed one) must not hold up a stop,
// which releases every lease within 5 s so that others take over.
func TestStopDoesNotWaitForADeadServer(t *testing.T) {
	t.Parallel()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // held open, never written to
		}
	}()
	e := setup(t, "sqlite", func(in *helpdesk.MailboxInput) {
		in.IMAPSecurity = "starttls" // the greeting and STARTTLS come before any login
		in.IMAPPort = silent.Addr().(*net.TCPAddr).Port
	})
	svc := startService(t, e, fetcher.ServiceConfig{})
	deadline := time.Now().Add(10 * time.Second)
	for svc.Owned() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the service did not take the mailbox's lease")
		}
		time.Sleep(20 * time.Millisecond)
	}
	started := time.Now()
	svc.Stop()
	if took := time.Since(started); took > 5*time.Second {
		t.Fatalf("Stop took %s while a session was connecting to a silent server, want at most 5s", took)
	}
	if st, _ := e.locker.(*locks.Local).Inspector().Inspect(context.Background(), e.mailbox); st.Held {
		t.Fatal("the lease is still held after Stop")
	}
}
