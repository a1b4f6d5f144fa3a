package main

// The fleet harness: many mailboxes on one Dovecot, several
// `helpdesk serve --roles fetcher,web` instances on one PostgreSQL and
// Redis, watched only through the external contract: the lock keys in
// Redis, the fetch gauges on each instance's /metrics, and the database.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// fleet is a cluster with many mailboxes and the instances that fetch them.
type fleet struct {
	*cluster
	mailboxes []int64
	user      map[int64]string   // the Dovecot user behind each mailbox
	sent      map[int64][]string // Message-IDs appended to each mailbox
	mails     int                // mails appended so far, for unique Message-IDs
	instances []*instance        // every instance started, live or not
	ledger    *ledgerWatch
}

// instance is one `helpdesk serve --roles fetcher,web` process.
type instance struct {
	*proc
	name string // A, B, C... in start order, for messages
	addr string // its HTTP address, for /metrics
}

func (i *instance) pid() int { return i.cmd.Process.Pid }

// newFleet makes a cluster on Dovecot d with n empty mailboxes, each with
// a poll interval of pollInterval seconds.
func newFleet(t testing.TB, lockTTL string, d *testserver.Dovecot, n, pollInterval int) *fleet {
	t.Helper()
	c := newClusterWith(t, lockTTL, teststore.URL(t, "postgres"), d)
	f := &fleet{cluster: c, user: map[int64]string{}, sent: map[int64][]string{}}
	users := map[string]string{}
	for i := range n {
		users[fmt.Sprintf("box%04d", i)] = fmt.Sprintf("pw-box%04d", i)
	}
	d.AddUsers(t, users)
	host, port := "127.0.0.1", d.Port()
	for i := range n {
		user := fmt.Sprintf("box%04d", i)
		id, err := c.store.CreateMailbox(context.Background(), helpdesk.MailboxInput{
			Name: user, Email: user + "@example.test",
			IMAPHost: host, IMAPPort: port, IMAPSecurity: "none",
			IMAPUser: user, IMAPPassword: users[user],
			Enabled: true, PollIntervalS: pollInterval,
		})
		if err != nil {
			t.Fatalf("create mailbox %s: %v", user, err)
		}
		f.mailboxes = append(f.mailboxes, id)
		f.user[id] = user
	}
	f.ledger = startLedgerWatch(t, c.db)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("at the end: %s", machineLoad()) // deadlines are requirements
		}
	})
	return f
}

// machineLoad says how busy the machine is, for figures and failures.
func machineLoad() string {
	load, _ := os.ReadFile("/proc/loadavg")
	f := append(strings.Fields(string(load)), "?", "?", "?")
	return fmt.Sprintf("load average %s %s %s (1, 5, 15 min) on %d CPUs", f[0], f[1], f[2], runtime.NumCPU())
}

// startInstance starts `serve --roles fetcher,web` on a port of its own
// and waits until it serves /metrics.
func (f *fleet) startInstance() *instance {
	f.t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(f.t))
	p := f.start([]string{"HELPDESK_LISTEN=" + addr}, "serve", "--roles", "fetcher,web")
	in := &instance{proc: p, name: string(rune('A' + len(f.instances))), addr: addr}
	f.instances = append(f.instances, in)
	deadline := time.Now().Add(time.Minute)
	for {
		if p.exited() {
			f.t.Fatalf("instance %s exited at start:\n%s", in.name, p.failureLog())
		}
		if _, err := in.metrics(); err == nil {
			return in
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("instance %s does not serve /metrics a minute after its start", in.name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// live are the instances that have not exited.
func (f *fleet) live() []*instance {
	var out []*instance
	for _, in := range f.instances {
		if !in.exited() {
			out = append(out, in)
		}
	}
	return out
}

var metricsClient = &http.Client{Timeout: 5 * time.Second}

// metrics reads the instance's /metrics: the value of each sample without
// labels, by name.
func (i *instance) metrics() (map[string]float64, error) {
	resp, err := metricsClient.Get("http://" + i.addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

// gauges are an instance's fetch gauges: mailboxes owned (leases held) and
// watched (session open, first run done).
type gauges struct{ owned, watched int }

const (
	ownedGauge   = "helpdesk_fetch_mailboxes_owned"
	watchedGauge = "helpdesk_fetch_mailboxes_watched"
)

// errNoGauges: an instance serves /metrics without the fetch gauges.
var errNoGauges = errors.New("/metrics has no " + ownedGauge + " or " + watchedGauge)

func (i *instance) gauges() (gauges, error) {
	m, err := i.metrics()
	if err != nil {
		return gauges{}, err
	}
	owned, ok1 := m[ownedGauge]
	watched, ok2 := m[watchedGauge]
	if !ok1 || !ok2 {
		return gauges{}, fmt.Errorf("instance %s: %w", i.name, errNoGauges)
	}
	return gauges{int(owned), int(watched)}, nil
}

// gaugeSum adds up the gauges of the instances; an instance that cannot
// be read is an error.
func gaugeSum(ins []*instance) (gauges, error) {
	var sum gauges
	for _, in := range ins {
		g, err := in.gauges()
		if err != nil {
			return gauges{}, err
		}
		sum.owned += g.owned
		sum.watched += g.watched
	}
	return sum, nil
}

// holders reads every mailbox's lock key in one round trip: the holder of
// each held mailbox (a key whose value is not ours counts as held by
// nobody we know, PID 0).
func (f *fleet) holders() (map[int64]leaseview.Holder, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pipe := f.admin.Pipeline()
	gets := make([]*redis.StringCmd, len(f.mailboxes))
	for i, id := range f.mailboxes {
		gets[i] = pipe.Get(ctx, leaseview.Key(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, err
	}
	out := map[int64]leaseview.Holder{}
	for i, id := range f.mailboxes {
		v, err := gets[i].Result()
		if err == redis.Nil {
			continue
		}
		if err != nil {
			return nil, err
		}
		if h := leaseview.DecodeHolder(v); h != nil {
			out[id] = *h
		} else {
			out[id] = leaseview.Holder{}
		}
	}
	return out, nil
}

// shares counts the mailboxes each PID holds.
func shares(holders map[int64]leaseview.Holder) map[int]int {
	out := map[int]int{}
	for _, h := range holders {
		out[h.PID]++
	}
	return out
}

// firstInstanceAndItsMailboxes is the first instance started and the
// mailboxes it holds now (at least one, or the test fails).
func (f *fleet) firstInstanceAndItsMailboxes() (*instance, []int64) {
	f.t.Helper()
	holders, err := f.holders()
	if err != nil {
		f.t.Fatal(err)
	}
	in := f.instances[0]
	var its []int64
	for id, h := range holders {
		if h.PID == in.pid() {
			its = append(its, id)
		}
	}
	if len(its) == 0 {
		f.t.Fatalf("instance %s holds no mailbox: %s", in.name, f.spread(holders))
	}
	slices.Sort(its)
	return in, its
}

// fairShare is the range of mailboxes each of n instances may own: a third
// either side of an even split (20 to 40 of 90 for three instances).
func fairShare(total, n int) (lo, hi int) {
	if n == 0 {
		return 0, 0
	}
	return total * 2 / (3 * n), (total*4 + 3*n - 1) / (3 * n)
}

// spread describes who holds what, for messages: "A=31 B=29 C=30 unheld=0".
func (f *fleet) spread(holders map[int64]leaseview.Holder) string {
	sh := shares(holders)
	var parts []string
	for _, in := range f.instances {
		if n := sh[in.pid()]; n > 0 || !in.exited() {
			parts = append(parts, fmt.Sprintf("%s=%d", in.name, n))
		}
		delete(sh, in.pid())
	}
	for pid, n := range sh {
		parts = append(parts, fmt.Sprintf("pid%d=%d", pid, n))
	}
	return fmt.Sprintf("%s unheld=%d", strings.Join(parts, " "), len(f.mailboxes)-len(holders))
}

// balanced says every mailbox is held by one of the live instances and,
// if fair is set, each owns a fair share; why not, when it is not.
func (f *fleet) balanced(fair bool) (bool, string) {
	holders, err := f.holders()
	if err != nil {
		return false, err.Error()
	}
	live := f.live()
	lo, hi := fairShare(len(f.mailboxes), len(live))
	sh := shares(holders)
	n, ok := 0, true
	for _, in := range live {
		n += sh[in.pid()]
		ok = ok && (!fair || sh[in.pid()] >= lo && sh[in.pid()] <= hi)
	}
	ok = ok && n == len(f.mailboxes)
	return ok, fmt.Sprintf("%s (fair share %d-%d)", f.spread(holders), lo, hi)
}

// settled says every mailbox is held by a live instance, in fair shares
// if fair is set, and the live instances' gauges agree: together they own
// every mailbox, and watch every one if watched is set; why not, when not.
func (f *fleet) settled(fair, watched bool) (bool, string) {
	g, err := gaugeSum(f.live())
	if errors.Is(err, errNoGauges) {
		f.t.Fatal(err) // no wait will change that
	}
	ok, why := f.balanced(fair)
	if err != nil {
		return false, why + "; " + err.Error()
	}
	why = fmt.Sprintf("%s; gauges: %d owned, %d watched", why, g.owned, g.watched)
	return ok && g.owned == len(f.mailboxes) && (!watched || g.watched == len(f.mailboxes)), why
}

// waitSettled waits until every mailbox is held and watched by the live
// instances, in fair shares if fair is set, and returns how long that
// took; the test fails if it takes longer than within.
func (f *fleet) waitSettled(within time.Duration, fair bool, what string) time.Duration {
	f.t.Helper()
	start := time.Now()
	for {
		ok, why := f.settled(fair, true)
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			f.t.Fatalf("%s: not settled within %s: %s; last runs not finished well: %s", what, within, why, f.runProblems())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// delivery is one mail appended to a mailbox: when the server confirmed
// it, and how many of the mailbox's mails are stored once it is.
type delivery struct {
	mailbox int64
	at      time.Time
	want    int
}

// deliver appends one new mail to each of the mailboxes, all at once.
func (f *fleet) deliver(ids []int64) []delivery {
	f.t.Helper()
	return f.startDeliver(ids).wait()
}

// pendingDeliveries are deliveries whose APPENDs are under way.
type pendingDeliveries struct {
	f       *fleet
	appends *testserver.Appends
	byUser  map[string]int64
}

// startDeliver is deliver in the background, so that the test can watch
// something else meanwhile.
func (f *fleet) startDeliver(ids []int64) *pendingDeliveries {
	f.t.Helper()
	mails := map[string][]byte{}
	byUser := map[string]int64{}
	for _, id := range ids {
		raw, msgID := teststore.Mail("fleet", f.mails, 300)
		f.mails++
		f.sent[id] = append(f.sent[id], msgID)
		mails[f.user[id]] = raw
		byUser[f.user[id]] = id
	}
	return &pendingDeliveries{f: f, appends: f.dove.StartAppendEach(f.t, "INBOX", mails), byUser: byUser}
}

// finished says whether the APPENDs have all been answered.
func (p *pendingDeliveries) finished() bool {
	select {
	case <-p.appends.Done():
		return true
	default:
		return false
	}
}

// wait waits for the APPENDs (call it from the test's goroutine).
func (p *pendingDeliveries) wait() []delivery {
	p.f.t.Helper()
	var out []delivery
	for user, at := range p.appends.Wait(p.f.t) {
		id := p.byUser[user]
		out = append(out, delivery{mailbox: id, at: at, want: len(p.f.sent[id])})
	}
	return out
}

// ledgerWatch notes when each mailbox's count of stored messages first
// reached each value, reading the ledger in the background every 20 ms:
// when a mail was stored is then known however busy the test's own
// goroutine was meanwhile (appending more mail, say).
type ledgerWatch struct {
	db   *sqlx.DB
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	seen map[int64][]time.Time // seen[id][k-1]: when k messages were first seen stored
	err  error
}

func startLedgerWatch(t testing.TB, db *sqlx.DB) *ledgerWatch {
	lw := &ledgerWatch{db: db, stop: make(chan struct{}), done: make(chan struct{}), seen: map[int64][]time.Time{}}
	go lw.loop()
	t.Cleanup(lw.halt)
	return lw
}

func (lw *ledgerWatch) loop() {
	defer close(lw.done)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		counts, err := lw.counts()
		now := time.Now()
		lw.mu.Lock()
		if err != nil && lw.err == nil {
			lw.err = err
		}
		for id, n := range counts {
			for len(lw.seen[id]) < n {
				lw.seen[id] = append(lw.seen[id], now)
			}
		}
		lw.mu.Unlock()
		select {
		case <-lw.stop:
			return
		case <-tick.C:
		}
	}
}

// counts is how many new messages each mailbox has stored.
func (lw *ledgerWatch) counts() (map[int64]int, error) {
	rows, err := lw.db.Query(`SELECT mailbox_id, COUNT(*) FROM fetch_ledger WHERE outcome = 'new' GROUP BY mailbox_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// storedAt is when the mailbox was first seen with n messages stored.
func (lw *ledgerWatch) storedAt(id int64, n int) (time.Time, bool, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if len(lw.seen[id]) >= n {
		return lw.seen[id][n-1], true, nil
	}
	return time.Time{}, false, lw.err
}

// halt stops the watch (the benchmark's idle minute reads nothing).
func (lw *ledgerWatch) halt() {
	select {
	case <-lw.stop:
	default:
		close(lw.stop)
	}
	<-lw.done
}

// lateGrace is how long requireStored keeps watching mail that is late,
// so that the failure says how late it was.
const lateGrace = 30 * time.Second

// requireStored waits until every delivery is stored and fails the test
// if one is not stored within `within` of its APPEND, naming each late
// mailbox, its holder, its runs and when (if at all) its mail was stored.
// It returns each delivery's latency, from the APPEND to the first time
// the ledger watch saw it stored, in the order of ds.
func (f *fleet) requireStored(ds []delivery, within time.Duration, what string) []time.Duration {
	f.t.Helper()
	lat := make([]time.Duration, len(ds))
	late := false
	for {
		now, pending, overdue := time.Now(), 0, false
		for i, d := range ds {
			if lat[i] != 0 {
				continue
			}
			at, ok, err := f.ledger.storedAt(d.mailbox, d.want)
			if err != nil {
				f.t.Fatalf("reading the ledger: %v", err)
			}
			if ok {
				lat[i] = max(at.Sub(d.at), time.Nanosecond)
				late = late || lat[i] > within
				continue
			}
			pending++
			late = late || now.Sub(d.at) > within
			overdue = overdue || now.Sub(d.at) > within+lateGrace
		}
		if pending == 0 || overdue {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if late {
		f.t.Fatalf("%s: mail not stored within %s of its APPEND: %s", what, within, f.describeLate(ds, lat, within))
	}
	return lat
}

// describeLate lists the late deliveries: mailbox, holder now, and when
// the mail was stored (or that it was not).
func (f *fleet) describeLate(ds []delivery, lat []time.Duration, within time.Duration) string {
	holders, _ := f.holders()
	names := map[int]string{}
	for _, in := range f.instances {
		names[in.pid()] = in.name
	}
	var out []string
	for i, d := range ds {
		if lat[i] != 0 && lat[i] <= within {
			continue
		}
		when := fmt.Sprintf("stored after %s", lat[i].Round(time.Millisecond))
		if lat[i] == 0 {
			when = fmt.Sprintf("not stored after %s", time.Since(d.at).Round(time.Millisecond))
		}
		holder := "nobody"
		if h, ok := holders[d.mailbox]; ok {
			holder = names[h.PID]
		}
		out = append(out, fmt.Sprintf("mailbox %d (held by %s) %s, runs since the APPEND: %s", d.mailbox, holder, when, f.runsSince(d)))
	}
	return fmt.Sprintf("%d of %d: %s", len(out), len(ds), strings.Join(out, "; "))
}

// runsSince describes the mailbox's fetch runs that started after the
// delivery: trigger, start after the APPEND, duration and messages stored.
func (f *fleet) runsSince(d delivery) string {
	rows, err := f.db.Query(`SELECT trigger, started_at, finished_at, new, error FROM fetch_runs
		WHERE mailbox_id = $1 AND started_at > $2 ORDER BY id`, d.mailbox, d.at.Add(-time.Second))
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var trigger, runErr string
		var started time.Time
		var finished *time.Time
		var n int
		if err := rows.Scan(&trigger, &started, &finished, &n, &runErr); err != nil {
			return err.Error()
		}
		took := "unfinished"
		if finished != nil {
			took = "took " + finished.Sub(started).Round(time.Millisecond).String()
		}
		out = append(out, fmt.Sprintf("[%s at +%s, %s, %d new%s]", trigger, started.Sub(d.at).Round(time.Millisecond), took, n,
			map[bool]string{true: ", error " + runErr}[runErr != ""]))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, " ")
}

// runProblems lists the mailboxes whose last fetch run is unfinished or
// failed, or that have none, for a failure message.
func (f *fleet) runProblems() string {
	rows, err := f.db.Query(`SELECT m.id, r.trigger, r.started_at, r.finished_at, COALESCE(r.error, '')
		FROM mailboxes m LEFT JOIN LATERAL (
			SELECT * FROM fetch_runs WHERE mailbox_id = m.id ORDER BY id DESC LIMIT 1) r ON true
		WHERE r.id IS NULL OR r.finished_at IS NULL OR r.error <> '' ORDER BY m.id`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		var trigger *string
		var started, finished *time.Time
		var runErr string
		if err := rows.Scan(&id, &trigger, &started, &finished, &runErr); err != nil {
			return err.Error()
		}
		switch {
		case started == nil:
			out = append(out, fmt.Sprintf("%d: no run", id))
		case finished == nil:
			out = append(out, fmt.Sprintf("%d: %s run unfinished after %s", id, *trigger, time.Since(*started).Round(time.Millisecond)))
		default:
			out = append(out, fmt.Sprintf("%d: %s run failed: %s", id, *trigger, runErr))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}

// requireExactlyOnce checks every mailbox: each mail appended is stored
// once, nothing else, no ledger write out of fence order, and the fetch
// runs' fences only grow.
func (f *fleet) requireExactlyOnce() {
	f.t.Helper()
	for _, id := range f.mailboxes {
		teststore.RequireExactlyOnce(f.t, f.store, id, f.sent[id])
		requireRunFences(f.t, f.store, id)
	}
}

// percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

func sortedDurations(ds []time.Duration) []time.Duration {
	out := slices.Clone(ds)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// rssBytes is a process's resident set size (VmRSS).
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
