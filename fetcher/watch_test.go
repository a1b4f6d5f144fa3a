package fetcher_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
	"github.com/helpdesk/helpdesk/locks"
)

// manyMailboxes adds n users to d and a mailbox for each to st; the i-th
// user is users[i] and owns mailbox ids[i].
func manyMailboxes(t *testing.T, d *testserver.Dovecot, st *store.Store, n, pollS int) (users []string, ids []int64) {
	t.Helper()
	host, port, _ := net.SplitHostPort(d.Addr())
	p, _ := strconv.Atoi(port)
	for i := range n {
		user := fmt.Sprintf("box%03d", i)
		d.AddUser(t, user, "pw-"+user)
		id, err := st.CreateMailbox(context.Background(), helpdesk.MailboxInput{
			Name: user, Email: user + "@example.test", IMAPHost: host, IMAPPort: p, IMAPSecurity: "none",
			IMAPUser: user, IMAPPassword: "pw-" + user, Enabled: true, PollIntervalS: pollS,
		})
		if err != nil {
			t.Fatal(err)
		}
		users, ids = append(users, user), append(ids, id)
	}
	return users, ids
}

// One service watches 50 mailboxes on an IDLE-capable server, all at once
// (no cap of a few mailboxes, no slot given up after a while): a new mail
// in each is stored within 3 s of its APPEND, every one of them, once.
// Not parallel: it runs before the package's parallel tests, so that its
// latency is the service's, not that of a CPU shared with them.
func TestServiceWatchesFiftyIdleMailboxes(t *testing.T) {
	testserver.SkipShort(t, "Dovecot")
	const n = 50
	d := testserver.StartDovecot(t)
	// PostgreSQL, where many mailboxes live: SQLite serializes the runs'
	// writes (about five transactions each), which on a loaded 2-core
	// machine puts the last of 50 runs seconds behind the first.
	url := teststore.URL(t, "postgres")
	st := teststore.OpenURL(t, url, store.Options{})
	users, ids := manyMailboxes(t, d, st, n, 600)
	metrics := fetcher.NewMetrics()
	e := &env{t: t, dovecot: d, store: st, fetcher: fetcher.New(st, fetcher.Config{Holder: "test", Metrics: metrics}),
		locker: locks.NewLocal(locks.Options{TTL: 5 * time.Second})}
	started := time.Now()
	svc := startService(t, e, fetcher.ServiceConfig{})
	waitWatched(t, svc, n, time.Minute)
	t.Logf("%d mailboxes watched %s after the start", n, time.Since(started).Round(time.Millisecond))
	requireGauges(t, metrics, n, n)

	appended := make([]time.Time, n)
	msgIDs := make([]string, n)
	for i, user := range users {
		raw, id := teststore.Mail(user, 1, 500)
		d.Append(t, user, "INBOX", raw)
		appended[i], msgIDs[i] = time.Now(), id
	}
	db := teststore.RawDB(t, url)
	deadline := time.Now().Add(30 * time.Second)
	for stored := 0; stored < n; {
		if err := db.Get(&stored, `SELECT COUNT(*) FROM fetch_ledger WHERE outcome = 'new'`); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d new mails stored within 30 s", stored, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A mail is committed before its run finishes: the run's end bounds
	// when it was stored.
	latency := make([]time.Duration, n)
	for i, id := range ids {
		teststore.RequireExactlyOnce(t, st, id, msgIDs[i:i+1])
		run := storingRun(t, st, id)
		latency[i] = run.FinishedAt.Sub(appended[i])
		if latency[i] > 3*time.Second {
			t.Errorf("mailbox %d: new mail stored %s after its APPEND (its run started after %s), want within 3 s",
				id, latency[i], run.StartedAt.Sub(appended[i]))
		}
	}
	t.Logf("APPEND to stored over %d mailboxes: median %s, worst %s",
		n, median(latency).Round(time.Millisecond), slices.Max(latency).Round(time.Millisecond))
	svc.Stop()
	requireGauges(t, metrics, 0, 0)
}

// requireGauges checks the service's gauges: leases held, mailboxes
// watched, and no download left counted.
func requireGauges(t *testing.T, m *fetcher.Metrics, owned, watched int) {
	t.Helper()
	got := []float64{gauge(t, m.Owned), gauge(t, m.Watched), gauge(t, m.Downloads), gauge(t, m.DownloadBytes)}
	if got[0] != float64(owned) || got[1] != float64(watched) || got[2] != 0 || got[3] != 0 {
		t.Fatalf("gauges owned, watched, downloads, download bytes = %v; want %d, %d, 0, 0", got, owned, watched)
	}
}

// storingRun is the mailbox's run that stored a new mail.
func storingRun(t *testing.T, st *store.Store, id int64) helpdesk.FetchRun {
	t.Helper()
	runs, err := st.RecentRuns(context.Background(), id, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.New > 0 && r.FinishedAt != nil {
			return r
		}
	}
	t.Fatalf("mailbox %d: no finished run stored the mail: %+v", id, runs)
	return helpdesk.FetchRun{}
}

func gauge(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// A server without IDLE: each mailbox's session stays open and is polled
// on its interval, within ±10 %, start to start.
func TestServicePollsWithoutIdle(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	// Long enough that ±10 % leaves room for a busy machine's delays.
	const n, interval = 5, 10 * time.Second
	d := testserver.StartDovecotWithoutIdle(t)
	st := teststore.Open(t, "sqlite")
	users, ids := manyMailboxes(t, d, st, n, int(interval/time.Second))
	if d.Dial(t, users[0]).Caps().Has(imap.CapIdle) {
		t.Fatal("the server offers IDLE; the test would not show polling")
	}
	e := &env{t: t, dovecot: d, store: st, fetcher: fetcher.New(st, fetcher.Config{Holder: "test"}),
		locker: locks.NewLocal(locks.Options{TTL: 5 * time.Second})}
	startService(t, e, fetcher.ServiceConfig{})

	const polls = 2
	deadline := time.Now().Add(polls*interval + 20*time.Second)
	for _, id := range ids {
		for {
			runs, err := st.RecentRuns(context.Background(), id, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) >= polls+1 {
				requirePolledOnInterval(t, id, runs, interval)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("mailbox %d: %d runs by now, want %d", id, len(runs), polls+1)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// requirePolledOnInterval checks that runs (latest first) started one
// interval apart, ±10 %, each by the schedule and under one lease.
func requirePolledOnInterval(t *testing.T, id int64, runs []helpdesk.FetchRun, interval time.Duration) {
	t.Helper()
	lo, hi := interval*9/10, interval*11/10
	for i := 0; i+1 < len(runs); i++ {
		gap := runs[i].StartedAt.Sub(runs[i+1].StartedAt)
		if gap < lo || gap > hi || runs[i].Trigger != "schedule" || runs[i].Fence != runs[i+1].Fence || runs[i].Error != "" {
			t.Errorf("mailbox %d: run %d started %s after the one before (want %s..%s), trigger %q, fence %d after %d, error %q",
				id, runs[i].ID, gap, lo, hi, runs[i].Trigger, runs[i].Fence, runs[i+1].Fence, runs[i].Error)
		}
	}
}
