package fetcher_test

import (
	"context"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
	"github.com/helpdesk/helpdesk/locks"
)

func startService(t *testing.T, e *env) *fetcher.Service {
	t.Helper()
	local := e.locker.(*locks.Local)
	svc := fetcher.NewService(e.fetcher, local, local.Inspector(), fetcher.ServiceConfig{Tick: 100 * time.Millisecond})
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	return svc
}

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

// The service fetches on schedule, then IDLEs holding the lease: new mail
// is stored within seconds, long before the poll interval.
func TestServiceIdlePicksUpNewMail(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite", func(in *helpdesk.MailboxInput) { in.PollIntervalS = 600 })
	raw, id := teststore.Mail("msg", 1, 500)
	e.dovecot.Append(t, e.user, "INBOX", raw)
	startService(t, e)
	waitStored(t, e, id, 3*time.Minute) // first run: at a random point of a quarter interval at most

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

// "Fetch now" is a request the service runs within about a second, through
// the same lease as scheduled runs.
func TestServiceRunsFetchRequests(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite", func(in *helpdesk.MailboxInput) { in.PollIntervalS = 3600 })
	startService(t, e)
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
	for open, _ := e.store.RequestedMailboxes(context.Background()); len(open) != 0; open, _ = e.store.RequestedMailboxes(context.Background()) {
		if time.Now().After(deadline) {
			t.Fatalf("request still open after the run: %v", open)
		}
		time.Sleep(20 * time.Millisecond)
	}
	runs, _ := e.store.RecentRuns(context.Background(), e.mailbox, 10)
	manual := false
	for _, r := range runs {
		manual = manual || r.Trigger == "manual"
	}
	if !manual {
		t.Fatalf("no run triggered by the request: %+v", runs)
	}
}

// Stop ends a running fetch after its current message: everything stored is
// committed, the lease is released, and it returns within seconds.
func TestServiceStopsGracefully(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite", func(in *helpdesk.MailboxInput) { in.PollIntervalS = 5 })
	raws, ids := teststore.Mails("msg", 0, 1500, 2000)
	e.dovecot.AppendMany(t, e.user, "INBOX", raws)
	local := e.locker.(*locks.Local)
	svc := fetcher.NewService(e.fetcher, local, local.Inspector(), fetcher.ServiceConfig{Tick: 100 * time.Millisecond})
	svc.Start(context.Background())
	deadline := time.Now().Add(2 * time.Minute)
	for len(e.audit().StoredMessageIDs) < 100 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stopped := time.Now()
	svc.Stop()
	if took := time.Since(stopped); took > 5*time.Second {
		t.Fatalf("Stop took %s, want under 5 s", took)
	}
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
	e := setup(t, "sqlite", func(in *helpdesk.MailboxInput) {
		in.PollIntervalS = 240 // the first run comes within a minute; the next poll 4 minutes later
		in.Folders = []string{"INBOX", "Sales"}
	})
	e.dovecot.CreateFolder(t, e.user, "Sales")
	raws, ids := teststore.Mails("sales", 0, 1500, 2000)
	e.dovecot.AppendMany(t, e.user, "Sales", raws)
	startService(t, e)
	// Wait until the scheduled run is inside the second folder (no fetch
	// request: its wake-up would hide the case), then mail the first.
	deadline := time.Now().Add(2 * time.Minute)
	for e.audit().StoredMessageIDs[ids[0]] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first run did not reach the second folder")
		}
		time.Sleep(5 * time.Millisecond)
	}
	raw, id := teststore.Mail("inbox", 1, 500)
	e.dovecot.Append(t, e.user, "INBOX", raw)
	waitStored(t, e, id, time.Minute)
	teststore.RequireExactlyOnce(t, e.store, e.mailbox, append(ids, id))
	runs, _ := e.store.RecentRuns(context.Background(), e.mailbox, 10)
	if len(runs) != 2 || runs[0].Trigger != "idle" || runs[0].New != 1 {
		t.Fatalf("runs %+v: want the scheduled one, then one for the new mail", runs)
	}
}
