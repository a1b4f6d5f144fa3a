package main

// Fault tests of the distributed fetch: real redis-server, Dovecot and
// PostgreSQL, several helpdesk processes, and faults injected from outside
// (SIGSTOP, SIGKILL, Redis restarted without persistence). Each test checks
// the invariants afterwards: every message exactly once, at most one holder
// per mailbox at a time, accepted fences only grow.

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// cluster is a distributed setup: PostgreSQL, a Redis without persistence,
// Dovecot, and a world whose processes use them.
type cluster struct {
	*world
	t     testing.TB
	dove  *testserver.Dovecot
	redis *testserver.Redis
	admin *redis.Client
	insp  leaseview.Inspector // on its own client
}

func newCluster(t testing.TB, lockTTL string) *cluster {
	t.Helper()
	return newClusterOn(t, lockTTL, teststore.URL(t, "postgres"))
}

// newClusterOn is newCluster on the PostgreSQL database at dbURL.
func newClusterOn(t testing.TB, lockTTL, dbURL string) *cluster {
	t.Helper()
	testserver.SkipShort(t, "a cluster of helpdesk processes")
	return newClusterWith(t, lockTTL, dbURL, testserver.StartDovecot(t))
}

// newClusterWith is a cluster around the Dovecot d; an empty lockTTL
// leaves HELPDESK_LOCK_TTL at its default.
func newClusterWith(t testing.TB, lockTTL, dbURL string, d *testserver.Dovecot) *cluster {
	t.Helper()
	r := testserver.StartRedis(t)
	env := []string{"HELPDESK_REDIS_URL=redis://" + r.Addr() + "/0"}
	if lockTTL != "" {
		env = append(env, "HELPDESK_LOCK_TTL="+lockTTL)
	}
	w := newWorld(t, dbURL, env...)
	return &cluster{world: w, t: t, dove: d, redis: r, admin: r.Client(t), insp: leaseview.NewRedisInspector(r.Client(t))}
}

// seed creates a mailbox (5 s poll interval) holding n small customer mails.
func (c *cluster) seed(user string, n int) (int64, []string) {
	c.t.Helper()
	id := c.addMailbox(c.dove, user, "pw-"+user, "--poll-interval", "5")
	raws, ids := teststore.Mails(user, 0, n, 400)
	c.dove.AppendMany(c.t, user, "INBOX", raws)
	return id, ids
}

// service starts `helpdesk serve --roles fetcher`.
func (c *cluster) service(env ...string) *proc {
	return c.start(env, "serve", "--roles", "fetcher")
}

// holder is who holds the mailbox's lease now (nil when nobody does or
// Redis cannot be read).
func (c *cluster) holder(id int64) *leaseview.Holder {
	st, err := c.insp.Inspect(context.Background(), id)
	if err != nil || !st.Held {
		return nil
	}
	return st.Holder
}

// waitHolder waits until some process of procs holds the mailbox and
// returns it with its lease.
func (c *cluster) waitHolder(id int64, procs ...*proc) (*proc, leaseview.Holder) {
	c.t.Helper()
	var p *proc
	var h leaseview.Holder
	waitFor(c.t, time.Minute, "a process to hold the mailbox", func() bool {
		hh := c.holder(id)
		if hh == nil {
			return false
		}
		for _, q := range procs {
			if q.cmd.Process.Pid == hh.PID {
				p, h = q, *hh
				return true
			}
		}
		return false
	})
	return p, h
}

func (c *cluster) ledgerRows(id, fence int64) int {
	return c.count(`SELECT COUNT(*) FROM fetch_ledger WHERE mailbox_id = $1 AND fence = $2`, id, fence)
}

func (c *cluster) ledgerRowsAbove(id, fence int64) int {
	return c.count(`SELECT COUNT(*) FROM fetch_ledger WHERE mailbox_id = $1 AND fence > $2`, id, fence)
}

// tryPause stops p (SIGSTOP) if none of p's database sessions is inside a
// transaction, and says whether it did. p's sessions are all client
// sessions but the caller's and those of ignore: call it while p is the
// only process working. (One paused inside a transaction holds its rows
// and keeps every other writer waiting.)
func (c *cluster) tryPause(p *proc, ignore map[int]bool) bool {
	p.stop(c.t)
	for pid, inTx := range c.sessions() {
		if inTx && !ignore[pid] {
			p.signal(syscall.SIGCONT)
			return false
		}
	}
	return true
}

// pauseBetweenTransactions tries to pause p until it catches p between two
// of its transactions; p barely runs meanwhile, only between the tries.
func (c *cluster) pauseBetweenTransactions(p *proc, ignore map[int]bool) {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !c.tryPause(p, ignore) {
		if time.Now().After(deadline) {
			c.t.Fatalf("could not pause the process between two of its transactions within a minute")
		}
	}
}

// sessions are the database's client sessions but the caller's: whether
// each is inside a transaction, by backend pid.
func (c *cluster) sessions() map[int]bool {
	c.t.Helper()
	rows, err := c.db.Query(`SELECT pid, xact_start IS NOT NULL FROM pg_stat_activity
		WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`)
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	sessions := map[int]bool{}
	for rows.Next() {
		var pid int
		var inTx bool
		if err := rows.Scan(&pid, &inTx); err != nil {
			c.t.Fatal(err)
		}
		sessions[pid] = inTx
	}
	if err := rows.Err(); err != nil {
		c.t.Fatal(err)
	}
	return sessions
}

// claimed says a fence above fence has been claimed.
func (c *cluster) claimed(id, fence int64) bool {
	return c.count(`SELECT COUNT(*) FROM mailbox_fences WHERE mailbox_id = $1 AND fence > $2`, id, fence) > 0
}

// requireStaleWroteNothingAfterClaim checks that a stale holder committed
// nothing after it resumed, the new fence being claimed by then.
func requireStaleWroteNothingAfterClaim(t testing.TB, after int) {
	t.Helper()
	if after > 0 {
		t.Fatalf("stale holder committed %d messages after the new fence was claimed", after)
	}
}

func (c *cluster) fenceViolations(id int64) int {
	c.t.Helper()
	a, err := c.store.AuditMailbox(context.Background(), id)
	if err != nil {
		c.t.Fatal(err)
	}
	return a.FenceViolations
}

// requireRunFences checks the mailbox's fetch_runs in start order: fences
// never go down, and each fence belongs to one holder (an instance re-runs
// under its fence while it keeps the lease and IDLEs, so a fence repeats
// only for the same holder). It returns holder by fence.
func requireRunFences(t testing.TB, store *store.Store, id int64) map[int64]string {
	t.Helper()
	runs, err := store.RecentRuns(context.Background(), id, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].ID < runs[j].ID })
	byFence := map[int64]string{}
	var last int64
	for _, r := range runs {
		if r.Fence < last {
			t.Fatalf("mailbox %d: run %d has fence %d after fence %d", id, r.ID, r.Fence, last)
		}
		if h, ok := byFence[r.Fence]; ok && h != r.Holder {
			t.Fatalf("mailbox %d: fence %d used by two holders, %s and %s", id, r.Fence, h, r.Holder)
		}
		byFence[r.Fence], last = r.Holder, r.Fence
	}
	if len(runs) == 0 {
		t.Fatalf("mailbox %d: no fetch runs", id)
	}
	return byFence
}

// pidOf is the PID of a fetch_runs holder ("host/pid").
func pidOf(holder string) int {
	i := strings.LastIndexByte(holder, '/')
	pid, _ := strconv.Atoi(holder[i+1:])
	return pid
}

// sampler watches the lock keys through a read-only inspector on a client
// of its own while a test runs.
type sampler struct {
	stop chan struct{}
	done chan struct{}

	mu  sync.Mutex
	obs map[int64][]leaseview.Holder // per mailbox, in time order
	n   int
}

func startSampler(t testing.TB, r *testserver.Redis, ids []int64) *sampler {
	insp := leaseview.NewRedisInspector(r.Client(t))
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{}), obs: map[int64][]leaseview.Holder{}}
	go func() {
		defer close(s.done)
		for {
			for _, id := range ids {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				st, err := insp.Inspect(ctx, id)
				cancel()
				if err != nil || !st.Held || st.Holder == nil {
					continue // idle, or Redis down for a moment
				}
				s.mu.Lock()
				s.obs[id] = append(s.obs[id], *st.Holder)
				s.n++
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(s.finish)
	return s
}

func (s *sampler) finish() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// check stops sampling and checks, per mailbox, that the observed holders
// never overlap: the fences seen never go down, and a fence is seen with
// one instance only. The one exception is an instance that took the key
// with a fence another had claimed a moment before (it read the fence, the
// other claimed, ran and released, then it obtained): its ClaimFence fails
// and it writes nothing, so it must not appear in fetch_runs with that fence.
// When Redis lost the key (restarted) before either claimed the fence, and
// both lost their leases before claiming it, nobody wrote under the fence:
// no run, no ledger row.
func (s *sampler) check(t testing.TB, c *cluster) {
	t.Helper()
	s.finish()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, obs := range s.obs {
		runs := requireRunFences(t, c.store, id)
		var last int64
		instances := map[int64]map[string]int{} // fence -> instance -> pid
		for _, h := range obs {
			if h.Fence < last {
				t.Fatalf("mailbox %d: lock seen with fence %d after fence %d", id, h.Fence, last)
			}
			last = h.Fence
			if instances[h.Fence] == nil {
				instances[h.Fence] = map[string]int{}
			}
			instances[h.Fence][h.Instance] = h.PID
		}
		for fence, insts := range instances {
			writer, wrote := runs[fence]
			writers := 0
			for _, pid := range insts {
				if wrote && pidOf(writer) == pid {
					writers++
				}
			}
			if len(insts) > 1 && (wrote && writers != 1 || !wrote && c.ledgerRows(id, fence) > 0) {
				t.Fatalf("mailbox %d: fence %d seen held by %d instances %v (fetch_runs holder %q, %d ledger rows)",
					id, fence, len(insts), insts, writer, c.ledgerRows(id, fence))
			}
		}
	}
	t.Logf("lock sampler: %d observations over %d mailboxes", s.n, len(s.obs))
}

// Three services share five mailboxes of 600 messages while one of them is
// stopped and another started: every message is stored exactly once, the
// lock never has two holders, accepted fences only grow.
func TestFaultThreeServicesFiveMailboxes(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "3s")
	const mailboxes, perMailbox = 5, 600
	ids := make([]int64, mailboxes)
	msgIDs := make([][]string, mailboxes)
	for i := range ids {
		ids[i], msgIDs[i] = c.seed(fmt.Sprintf("many%d", i), perMailbox)
	}
	total := func() int {
		return c.count(`SELECT COUNT(*) FROM fetch_ledger WHERE outcome = 'new'`)
	}
	s := startSampler(t, c.redis, ids)
	procs := []*proc{c.service(), c.service(), c.service()}

	// Churn: a graceful stop hands its mailboxes over, a newcomer joins.
	waitFor(t, 4*time.Minute, "a quarter of the mail", func() bool { return total() >= mailboxes*perMailbox/4 })
	procs[0].signal(syscall.SIGTERM)
	if code := procs[0].wait(t, 30*time.Second); code != 0 {
		t.Fatalf("stopped service exited %d:\n%s", code, procs[0].failureLog())
	}
	procs = append(procs, c.service())
	if total() >= mailboxes*perMailbox {
		t.Fatalf("all mail was stored before the churn; it shows nothing")
	}

	waitFor(t, 6*time.Minute, "all mail", func() bool { return total() >= mailboxes*perMailbox })
	for _, p := range procs[1:] {
		p.signal(syscall.SIGTERM)
	}
	for _, p := range procs[1:] {
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("service exited %d:\n%s", code, p.failureLog())
		}
	}
	for i, id := range ids {
		teststore.RequireExactlyOnce(t, c.store, id, msgIDs[i])
	}
	s.check(t, c)
	holders := map[string]bool{}
	for _, id := range ids {
		for _, h := range requireRunFences(t, c.store, id) {
			holders[h] = true
		}
	}
	t.Logf("%d processes held leases", len(holders))
}

// A holder SIGSTOPped past its TTL is taken over, and the new holder claims
// the next fence while the old one is still stopped: a fetch transaction it
// was stopped in is ended by PostgreSQL (idle_in_transaction_session_timeout,
// 5 s here, 1 min by default). When it resumes it writes nothing more (its
// context is cancelled by the lease's local deadline, and any write that
// slipped through would be fenced off) and its run aborts.
func TestFaultStoppedHolderIsFenced(t *testing.T) {
	t.Parallel()
	c := newClusterOn(t, "2s", teststore.WithParam(t, teststore.URL(t, "postgres"), "idle_in_transaction_session_timeout", "5s"))
	id, msgIDs := c.seed("stopped", 600)
	a, b := c.service(), c.service()
	waitFor(t, 2*time.Minute, "the first 100 messages", func() bool { return c.stored(id) >= 100 })
	stale, h := c.waitHolder(id, a, b)
	other := a
	if stale == a {
		other = b
	}

	st, err := c.insp.Inspect(context.Background(), id)
	if err != nil || !st.Held {
		t.Fatalf("lock before SIGSTOP: %+v, %v", st, err)
	}
	// The key lives at least this long: a renewal after the read only
	// pushes its expiry later.
	expiresAt := time.Now().Add(st.TTLLeft)
	stale.signal(syscall.SIGSTOP)
	if c.stored(id) >= len(msgIDs) {
		t.Fatalf("the mailbox was finished before the holder was stopped; the stop shows nothing")
	}
	// The other service takes the lease once the TTL has run out.
	waitFor(t, 20*time.Second, "the other service to take the lease", func() bool {
		hh := c.holder(id)
		return hh != nil && hh.PID == other.cmd.Process.Pid && hh.Fence > h.Fence
	})
	if early := time.Until(expiresAt); early > 50*time.Millisecond {
		t.Fatalf("lease taken over %s before the stopped holder's key expired", early)
	}
	waitFor(t, 20*time.Second, "the takeover to claim the next fence while the holder is stopped", func() bool { return c.claimed(id, h.Fence) })
	staleRows := c.ledgerRows(id, h.Fence)
	stale.signal(syscall.SIGCONT)

	waitFor(t, 30*time.Second, "the stale run to abort", func() bool {
		return strings.Contains(stale.Log(), "fetch failed") || strings.Contains(stale.Log(), "fetch stopped")
	})
	log := stale.Log()
	if !strings.Contains(log, "lease lost") && !strings.Contains(log, "fenced off") {
		t.Fatalf("stale process did not report losing its lease:\n%s", tail(log, 3000))
	}
	t.Logf("stale holder on resuming: lease lost %v, fenced off %v", strings.Contains(log, "lease lost"), strings.Contains(log, "fenced off"))
	waitFor(t, 4*time.Minute, "all mail", func() bool { return c.stored(id) >= len(msgIDs) })
	requireStaleWroteNothingAfterClaim(t, c.ledgerRows(id, h.Fence)-staleRows)
	teststore.RequireExactlyOnce(t, c.store, id, msgIDs)
	requireRunFences(t, c.store, id)
	// Its run was never finished: that write was refused too.
	runs, err := c.store.RecentRuns(context.Background(), id, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Fence == h.Fence && r.FinishedAt != nil {
			t.Fatalf("the stale holder's run %d was finished: %+v", r.ID, r)
		}
	}
}

// SIGKILL of the holder: the other instance takes over within TTL + 2 s
// and finishes the mailbox.
func TestFaultKilledHolderTakenOver(t *testing.T) {
	t.Parallel()
	const ttl = 2 * time.Second
	took := killHolderAndMeasure(t, ttl)
	t.Logf("takeover after SIGKILL: %s (TTL %s)", took.Round(time.Millisecond), ttl)
	// The TTL + 2 s target is measured by BenchmarkTakeoverAfterSIGKILL;
	// under the race detector on a loaded CI machine this only checks the
	// takeover does not wait for the poll interval.
	if took > ttl+15*time.Second {
		t.Fatalf("takeover took %s, want well under the poll interval (TTL + 15 s = %s)", took, ttl+15*time.Second)
	}
}

// killHolderAndMeasure runs two services on a 600-message mailbox, kills
// the holder mid-fetch, and returns the time from the kill to the first
// message the next holder committed. It checks the invariants afterwards.
func killHolderAndMeasure(t testing.TB, ttl time.Duration) time.Duration {
	c := newCluster(t, ttl.String())
	id, msgIDs := c.seed("killed", 600)
	a, b := c.service(), c.service()
	waitFor(t, 2*time.Minute, "the first 100 messages", func() bool { return c.stored(id) >= 100 })
	victim, h := c.waitHolder(id, a, b)
	victim.signal(syscall.SIGKILL)
	killed := time.Now()
	victim.wait(t, 10*time.Second)
	var took time.Duration
	waitFor(t, ttl+time.Minute, "the next holder's first message", func() bool {
		if c.ledgerRowsAbove(id, h.Fence) == 0 {
			return false
		}
		took = time.Since(killed)
		return true
	})
	if c.stored(id) >= len(msgIDs) {
		t.Fatalf("mailbox finished before the kill; nothing was taken over")
	}
	waitFor(t, 4*time.Minute, "all mail", func() bool { return c.stored(id) >= len(msgIDs) })
	teststore.RequireExactlyOnce(t, c.store, id, msgIDs)
	requireRunFences(t, c.store, id)
	return took
}

// Redis restarted without persistence while three services fetch: every
// lease is gone at once. Old holders are stopped (lease lost, or fenced off
// when a newcomer claimed first); with Redis down long enough, fetching
// pauses; when it is back, it resumes. Nothing lost or duplicated, fences
// keep growing.
func TestFaultRedisRestartedWithoutPersistence(t *testing.T) {
	t.Parallel()
	const ttl, mailboxes, perMailbox = 2 * time.Second, 3, 1000
	c := newCluster(t, ttl.String())
	ids := make([]int64, mailboxes)
	msgIDs := make([][]string, mailboxes)
	for i := range ids {
		ids[i], msgIDs[i] = c.seed(fmt.Sprintf("restart%d", i), perMailbox)
	}
	total := func() int { return c.count(`SELECT COUNT(*) FROM fetch_ledger WHERE outcome = 'new'`) }
	maxFence := func() int64 {
		var f int64
		c.db.QueryRow(`SELECT COALESCE(MAX(fence), 0) FROM mailbox_fences`).Scan(&f)
		return f
	}
	s := startSampler(t, c.redis, ids)
	procs := []*proc{c.service(), c.service(), c.service()}

	// A quick restart: the keys vanish under the holders.
	waitFor(t, 3*time.Minute, "some mail", func() bool { return total() >= 200 })
	fenceBefore := maxFence()
	c.redis.Restart(t)
	waitFor(t, time.Minute, "new leases after the restart", func() bool { return maxFence() > fenceBefore })

	// Down for longer than the TTL: every lease runs out and nothing is
	// written; back up, fetching resumes. Redis goes down soon after the
	// new leases store mail, so that most of it is still to come: holders
	// keep storing until their leases run out (up to a TTL), and at half
	// the mail they could finish it in that time.
	resumedFrom := total()
	waitFor(t, 3*time.Minute, "mail under the new leases", func() bool { return total() >= resumedFrom+100 })
	c.redis.Kill()
	// This wait is what is tested: by the clock, every holder's local
	// deadline has passed (it ends a TTL after the last renewal at the
	// latest). A holder's run may also have ended otherwise meanwhile (a
	// database error, say), so no report of each loss can stand in for it.
	time.Sleep(ttl + time.Second)
	paused := total()
	time.Sleep(time.Second) // watch: nothing may be written
	if n := total(); n != paused {
		t.Fatalf("%d messages stored while Redis was down and every lease had expired", n-paused)
	}
	if paused >= mailboxes*perMailbox {
		t.Fatalf("all mail fetched before Redis went down; the pause shows nothing")
	}
	fenceBefore = maxFence()
	c.redis.Restart(t)
	waitFor(t, 5*time.Minute, "all mail after Redis came back", func() bool { return total() >= mailboxes*perMailbox })
	if maxFence() <= fenceBefore {
		t.Fatalf("no new lease after Redis came back")
	}
	for _, p := range procs {
		p.signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("service exited %d:\n%s", code, p.failureLog())
		}
	}
	for i, id := range ids {
		teststore.RequireExactlyOnce(t, c.store, id, msgIDs[i])
	}
	s.check(t, c)
	lost, fenced := 0, 0
	for _, p := range procs {
		lost += strings.Count(p.Log(), "lease lost")
		fenced += strings.Count(p.Log(), "fenced off")
	}
	t.Logf("holders stopped by the restarts: %d saw the lease lost, %d were fenced off", lost, fenced)
	if lost+fenced == 0 {
		t.Fatalf("no holder reported losing its lease across two Redis restarts")
	}
}

// The control run. A holder is paused mid-fetch and, while it is stopped,
// Redis loses its key (restart without persistence); a one-shot fetch takes
// the mailbox over, claims the next fence, writes, and is paused in turn.
// The first holder resumes well within its own TTL, so nothing tells it
// that its lease is gone until its next renewal. It keeps ingesting: with
// fencing off (a binary built with -tags nofencing), its writes land after
// the new holder's and the checker reports violations; with fencing on,
// its first write is fenced off, it aborts saying so, and once the new
// holder resumes every message is stored once.
//
// (A holder paused past its own TTL is no good for the control: its lease's
// local deadline cancels its work the moment it resumes, so with fencing
// off it would write after the takeover only by luck. Both are paused
// between two of their transactions: one paused inside a transaction
// holds the fence row, and the other could write only after it.)
func TestFaultControlStaleWriter(t *testing.T) {
	t.Parallel()
	for _, fencing := range []bool{false, true} {
		name := map[bool]string{false: "fencing_off", true: "fencing_on"}[fencing]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Holders renew every 60 s; paused within 20 s of a renewal,
			// the first has at least 40 s before the next one could tell
			// it that its lease is gone. Neither lease expires while its
			// holder is paused.
			const holderTTL, sinceRenewal = 180 * time.Second, 20 * time.Second
			c := newCluster(t, holderTTL.String())
			if !fencing {
				c.bin = noFencingBinary(t)
			}
			id, msgIDs := c.seed("stale", 800)
			a := c.start(nil, "fetch", "--mailbox", itoa(id), "--json")
			var h leaseview.Holder
			waitFor(t, 2*time.Minute, "the holder paused mid-fetch, just after a renewal", func() bool {
				st, err := c.insp.Inspect(context.Background(), id)
				if err != nil || !st.Held || st.Holder == nil || st.Holder.PID != a.cmd.Process.Pid {
					return false
				}
				h = *st.Holder
				return c.stored(id) >= 200 && st.TTLLeft > holderTTL-sinceRenewal && c.tryPause(a, nil)
			})
			// The paused holder's sessions, and ours: idle, but one may
			// have begun a transaction that was on its way when it stopped.
			paused := map[int]bool{}
			for pid := range c.sessions() {
				paused[pid] = true
			}
			c.redis.Restart(t) // the key is gone; the paused holder cannot know
			if c.holder(id) != nil {
				t.Fatal("lock survived a restart without persistence")
			}
			b := c.start(nil, "fetch", "--mailbox", itoa(id), "--json")
			waitFor(t, time.Minute, "the one-shot fetch to take the lease", func() bool {
				hh := c.holder(id)
				return hh != nil && hh.PID == b.cmd.Process.Pid && hh.Fence > h.Fence
			})
			waitFor(t, time.Minute, "the one-shot fetch to claim its fence and write", func() bool {
				return c.claimed(id, h.Fence) && c.ledgerRowsAbove(id, h.Fence) > 0
			})
			c.pauseBetweenTransactions(b, paused)
			if c.stored(id) >= len(msgIDs) {
				t.Fatalf("the mailbox was finished before both holders were paused; the stale holder has nothing left to write")
			}
			staleRows := c.ledgerRows(id, h.Fence)
			a.signal(syscall.SIGCONT)

			if !fencing {
				waitFor(t, 30*time.Second, "the checker to report a fence violation", func() bool {
					return c.fenceViolations(id) > 0 || a.exited()
				})
				v := c.fenceViolations(id)
				t.Logf("fencing off: %d ledger rows written out of fence order; stale holder wrote %d rows after resuming",
					v, c.ledgerRows(id, h.Fence)-staleRows)
				if v == 0 {
					t.Fatalf("control run: the stale writer produced no fence violation; the checker cannot fail")
				}
				return
			}
			if code := a.wait(t, 30*time.Second); code != 1 || !strings.Contains(a.Log(), "fenced off") {
				t.Fatalf("stale holder: exit %d, want 1 with a fenced-off error:\n%s", code, a.failureLog())
			}
			b.signal(syscall.SIGCONT)
			if code := b.wait(t, 4*time.Minute); code != 0 {
				t.Fatalf("one-shot fetch exited %d:\n%s", code, b.failureLog())
			}
			requireStaleWroteNothingAfterClaim(t, c.ledgerRows(id, h.Fence)-staleRows)
			teststore.RequireExactlyOnce(t, c.store, id, msgIDs)
			requireRunFences(t, c.store, id)
		})
	}
}

// 1,000 reads through an inspector connected as a Redis user that may only
// GET, PTTL and SCAN, during a fetch: Redis gets nothing else from that
// connection, and the fetch completes undisturbed.
func TestFaultInspectorReadsDuringFetch(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "2s")
	ctx := context.Background()
	if err := c.admin.Do(ctx, "ACL", "SETUSER", "viewer", "on", ">viewer-pw", "-@all", "+get", "+pttl", "+scan", "~*").Err(); err != nil {
		t.Fatal(err)
	}
	viewer := redis.NewClient(&redis.Options{Addr: c.redis.Addr(), Username: "viewer", Password: "viewer-pw",
		DisableIdentity: true, PoolSize: 1, MinIdleConns: 1})
	t.Cleanup(func() { viewer.Close() })
	insp := leaseview.NewRedisInspector(viewer)

	id, msgIDs := c.seed("inspected", 800)
	p := c.start(nil, "fetch", "--mailbox", itoa(id), "--json")
	waitFor(t, time.Minute, "the fetch to hold the mailbox", func() bool {
		st, err := insp.Inspect(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return st.Held && st.Holder != nil && st.Holder.PID == p.cmd.Process.Pid
	})
	viewerAddr := clientAddr(t, c.admin, "viewer")
	mon := startMonitor(t, c.redis.Addr())
	held := 0
	for range 1000 {
		st, err := insp.Inspect(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Held {
			held++
		}
	}
	if p.exited() {
		t.Fatalf("the fetch ended before the 1,000 reads did; they were not during a fetch")
	}
	const marker = "fault-inspector-end"
	if err := c.admin.Echo(ctx, marker).Err(); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	others := 0
	for _, cmd := range mon.until(t, marker) {
		if cmd.addr == viewerAddr {
			counts[cmd.name]++
		} else {
			others++
		}
	}
	if len(counts) != 2 || counts["get"] != 1000 || counts["pttl"] != 1000 {
		t.Fatalf("the reader sent %v; want exactly 1000 get and 1000 pttl", counts)
	}
	if code := p.wait(t, 4*time.Minute); code != 0 {
		t.Fatalf("fetch exited %d:\n%s", code, p.failureLog())
	}
	if strings.Contains(p.Log(), "lease lost") {
		t.Fatalf("the fetch lost its lease:\n%s", tail(p.Log(), 3000))
	}
	teststore.RequireExactlyOnce(t, c.store, id, msgIDs)
	runs, err := c.store.RecentRuns(ctx, id, 10)
	if err != nil || len(runs) != 1 || runs[0].FinishedAt == nil || runs[0].Error != "" || runs[0].New != len(msgIDs) {
		t.Fatalf("want one clean run storing every message: %+v, %v", runs, err)
	}
	t.Logf("1000 reads (%d saw the lease held), %d commands from other clients meanwhile", held, others)
}

// clientAddr is the address of the one connection of a Redis user.
func clientAddr(t testing.TB, admin *redis.Client, user string) string {
	t.Helper()
	list, err := admin.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(" "+line+" ", " user="+user+" ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if a, ok := strings.CutPrefix(f, "addr="); ok {
				addrs = append(addrs, a)
			}
		}
	}
	if len(addrs) != 1 {
		t.Fatalf("user %s has connections %v; want one", user, addrs)
	}
	return addrs[0]
}

// A one-shot `helpdesk fetch` and a service started together on the same
// mailbox, round after round with new mail each time: nothing is stored
// twice and fences only grow.
func TestFaultOneShotAndServiceTogether(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "2s")
	id := c.addMailbox(c.dove, "together", "pw-together", "--poll-interval", "5")
	var all []string
	const rounds, perRound = 10, 30
	won := map[int]int{}
	for round := range rounds {
		raws, ids := teststore.Mails(fmt.Sprintf("together%d", round), 0, perRound, 400)
		c.dove.AppendMany(t, "together", "INBOX", raws)
		all = append(all, ids...)
		// A "fetch now" request makes the service start on the mailbox at
		// once, racing the one-shot fetch.
		if err := c.store.RequestFetch(context.Background(), id, "fault test"); err != nil {
			t.Fatal(err)
		}
		var svc, one *proc
		if round%2 == 0 {
			svc, one = c.service(), c.start(nil, "fetch", "--mailbox", itoa(id), "--json")
		} else {
			one, svc = c.start(nil, "fetch", "--mailbox", itoa(id), "--json"), c.service()
		}
		code := one.wait(t, 2*time.Minute)
		if code != 0 && code != 3 {
			t.Fatalf("round %d: one-shot fetch exited %d:\n%s", round, code, one.failureLog())
		}
		won[code]++
		waitFor(t, 2*time.Minute, "the round's mail", func() bool { return c.stored(id) >= len(all) })
		svc.signal(syscall.SIGTERM)
		if code := svc.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("round %d: service exited %d:\n%s", round, code, svc.failureLog())
		}
		teststore.RequireExactlyOnce(t, c.store, id, all)
		requireRunFences(t, c.store, id)
	}
	t.Logf("one-shot fetch: %d times ran (exit 0), %d times found the service holding the mailbox (exit 3)", won[0], won[3])
}

// monitorCmd is one command seen by MONITOR.
type monitorCmd struct{ addr, name string }

// monitor is a raw MONITOR connection.
type monitor struct {
	conn net.Conn
	buf  []byte
}

func startMonitor(t testing.TB, addr string) *monitor {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(time.Minute))
	m := &monitor{conn: conn}
	if _, err := fmt.Fprint(conn, "MONITOR\r\n"); err != nil {
		t.Fatal(err)
	}
	if line := m.line(t); line != "+OK" {
		t.Fatalf("MONITOR: %q", line)
	}
	return m
}

func (m *monitor) line(t testing.TB) string {
	t.Helper()
	for {
		if i := strings.Index(string(m.buf), "\r\n"); i >= 0 {
			line := string(m.buf[:i])
			m.buf = m.buf[i+2:]
			return line
		}
		chunk := make([]byte, 64<<10)
		n, err := m.conn.Read(chunk)
		if err != nil {
			t.Fatalf("monitor: %v", err)
		}
		m.buf = append(m.buf, chunk[:n]...)
	}
}

// until returns the commands seen before an ECHO of marker. Lines look like
// +1700000000.123456 [0 127.0.0.1:5555] "get" "key" (or [0 lua] for
// commands a script ran).
func (m *monitor) until(t testing.TB, marker string) []monitorCmd {
	t.Helper()
	var cmds []monitorCmd
	for {
		line := m.line(t)
		_, rest, ok1 := strings.Cut(line, " [")
		client, rest, ok2 := strings.Cut(rest, "] \"")
		if !ok1 || !ok2 {
			t.Fatalf("monitor line %q", line)
		}
		_, addr, _ := strings.Cut(client, " ")
		name, args, _ := strings.Cut(rest, "\"")
		name = strings.ToLower(name)
		if name == "echo" && strings.Contains(args, marker) {
			return cmds
		}
		cmds = append(cmds, monitorCmd{addr: addr, name: name})
	}
}

// A service idling on a caught-up mailbox loses its lease when Redis is
// restarted without persistence. It must notice at once, leave IDLE and take
// the mailbox again with a new fence, so that new mail keeps coming in
// through IDLE, not after the poll interval (60 s here).
func TestFaultLeaseLostWhileIdling(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "2s")
	id := c.addMailbox(c.dove, "idler", "pw-idler", "--poll-interval", "60")
	raws, ids := teststore.Mails("idler", 0, 2, 400)
	c.dove.Append(t, "idler", "INBOX", raws[0])
	// A fetch request starts the first run at once, not at a random point
	// of the first quarter interval.
	if err := c.store.RequestFetch(context.Background(), id, "fault test"); err != nil {
		t.Fatal(err)
	}
	p := c.service()
	_, h := c.waitHolder(id, p)
	waitFor(t, time.Minute, "the first run", func() bool {
		return c.stored(id) == 1 && c.count(`SELECT COUNT(*) FROM fetch_runs WHERE mailbox_id = $1 AND finished_at IS NOT NULL`, id) > 0
	})
	c.redis.Restart(t)
	restarted := time.Now()
	waitFor(t, 15*time.Second, "the service to take the mailbox again", func() bool {
		hh := c.holder(id)
		return hh != nil && hh.Fence > h.Fence
	})
	t.Logf("mailbox held again %s after the restart", time.Since(restarted).Round(time.Millisecond))
	c.dove.Append(t, "idler", "INBOX", raws[1])
	waitFor(t, 10*time.Second, "the new mail through IDLE", func() bool { return c.stored(id) == 2 })
	teststore.RequireExactlyOnce(t, c.store, id, ids)
	requireRunFences(t, c.store, id)
}
