package main

// Fleet tests: several `helpdesk serve --roles fetcher,web` instances over
// many mailboxes on one Dovecot, PostgreSQL and Redis (issue 14). They are
// not parallel: their deadlines are requirements, and the machine is small.

import (
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// Three instances share 90 mailboxes fairly and watch them all: mail to
// each is stored within the poll interval (10 s). A fourth joins: within
// 2 TTL the four own fair shares, and mail appended to every mailbox
// while they rebalance is stored within the poll interval too (no mailbox
// goes unwatched longer). Then one is killed with SIGKILL: within TTL + 2 s the others
// own and watch all it had, and mail appended to those mailboxes right
// after the kill is stored by then. Every mail is stored exactly once.
//
// (The fourth joins before the kill, so that four instances share the
// mailboxes at one time and three after; killing first would leave two.)
func TestFleetRebalanceAndKill(t *testing.T) {
	testserver.SkipShort(t, "a fleet of helpdesk processes")
	const n, pollInterval, ttl = 90, 10, 3 * time.Second
	poll := time.Duration(pollInterval) * time.Second
	f := newFleet(t, ttl.String(), testserver.StartDovecotFleet(t, testserver.DovecotFleetOptions{Connections: 2 * n}), n, pollInterval)
	for range 3 {
		f.startInstance()
	}
	took := f.waitSettled(time.Minute, true, "three instances")
	_, spread := f.balanced(true)
	t.Logf("three instances settled %s after the last served /metrics: %s", took.Round(time.Millisecond), spread)
	// Every mailbox watched: mail to each is stored within its poll
	// interval (the 3 s of IDLE is the fetcher's own test, on one instance).
	lat := sortedDurations(f.requireStored(f.deliver(f.mailboxes), poll+time.Second, "new mail with three instances"))
	t.Logf("new mail with three instances: stored p50 %s, max %s", ms(percentile(lat, 50)), ms(lat[len(lat)-1]))

	// A fourth joins. Mail goes to a third of the mailboxes after another
	// until the shares are fair again and every mailbox had some.
	f.startInstance()
	joined := time.Now()
	third := func(round int) []int64 { return f.mailboxes[round%3*n/3 : (round%3+1)*n/3] }
	var ds []delivery
	batch, round, rebalanced := f.startDeliver(third(0)), 0, false
	for {
		if !rebalanced {
			ok, why := f.settled(true, false)
			if time.Since(joined) > 2*ttl {
				t.Fatalf("shares not rebalanced within 2 TTL (%s) of the fourth instance joining: %s", 2*ttl, why)
			}
			if rebalanced = ok; ok {
				t.Logf("four instances rebalanced %s after the fourth served /metrics: %s", ms(time.Since(joined)), why)
			}
		}
		if batch.finished() {
			ds = append(ds, batch.wait()...)
			if rebalanced && round >= 2 {
				break
			}
			round++
			batch = f.startDeliver(third(round))
		}
		time.Sleep(20 * time.Millisecond)
	}
	took = f.waitSettled(poll, true, "four instances")
	t.Logf("and all mailboxes watched %s later", ms(took))
	lat = sortedDurations(f.requireStored(ds, poll+time.Second, "mail appended during the rebalance"))
	t.Logf("%d mails appended during the rebalance: stored p50 %s, max %s (poll interval %s)",
		len(ds), ms(percentile(lat, 50)), ms(lat[len(lat)-1]), poll)

	// Kill one of the first three.
	victim, orphans := f.firstInstanceAndItsMailboxes()
	victim.signal(syscall.SIGKILL)
	killed := time.Now()
	delivery := f.startDeliver(orphans)
	takenOver := f.waitTakenOver(victim, orphans, true, killed.Add(ttl+2*time.Second))
	t.Logf("%d mailboxes of the killed instance owned and watched by the others %s after the kill (TTL %s)",
		len(orphans), ms(takenOver.Sub(killed)), ttl)
	victim.wait(t, 10*time.Second)
	// Each mail has TTL + 2 s from its APPEND, a little more than from
	// the kill.
	lat = sortedDurations(f.requireStored(delivery.wait(), ttl+2*time.Second, "mail appended right after the kill"))
	t.Logf("mail appended right after the kill: stored p50 %s, max %s", ms(percentile(lat, 50)), ms(lat[len(lat)-1]))
	f.waitSettled(2*ttl, true, "three instances after the kill")
	f.requireStored(f.deliver(f.mailboxes), poll+time.Second, "new mail after the kill")
	f.requireExactlyOnce()
}

// waitTakenOver waits until every mailbox in ids is held by a live
// instance other than gone and the live instances' gauges say they own
// every mailbox, and watch them too if watched is set; the test fails if
// that is not so by deadline. It returns when it saw them taken over.
func (f *fleet) waitTakenOver(gone *instance, ids []int64, watched bool, deadline time.Time) time.Time {
	f.t.Helper()
	start := time.Now()
	var firstWhy string
	for {
		why := f.takenOver(gone, ids, watched)
		if why == "" && time.Now().Before(deadline) {
			return time.Now()
		}
		if time.Now().After(deadline) && firstWhy == "" {
			firstWhy = why
		}
		// Past the deadline, watch a while longer to say how late it was.
		if why == "" || time.Since(deadline) > lateGrace {
			later := fmt.Sprintf("still not %s later", ms(time.Since(start)))
			if why == "" {
				later = fmt.Sprintf("they were %s after the wait began", ms(time.Since(start)))
			}
			f.t.Fatalf("mailboxes of instance %s not taken over by the deadline (%s after the wait began): %s; %s",
				gone.name, ms(deadline.Sub(start)), firstWhy, later)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// takenOver says why the mailboxes ids are not all owned (and watched, if
// watched is set) by live instances other than gone; "" when they are.
func (f *fleet) takenOver(gone *instance, ids []int64, watched bool) string {
	holders, err := f.holders()
	if err != nil {
		return err.Error()
	}
	var live []*instance
	pids := map[int]bool{}
	for _, in := range f.live() {
		if in != gone {
			live = append(live, in)
			pids[in.pid()] = true
		}
	}
	var orphaned []int64
	for _, id := range ids {
		if h, ok := holders[id]; !ok || !pids[h.PID] {
			orphaned = append(orphaned, id)
		}
	}
	if len(orphaned) > 0 {
		return fmt.Sprintf("%d not held by a live instance (%v); %s", len(orphaned), orphaned, f.spread(holders))
	}
	g, err := gaugeSum(live)
	if err != nil {
		return err.Error()
	}
	if g.owned != len(f.mailboxes) || watched && g.watched != len(f.mailboxes) {
		return fmt.Sprintf("the others' gauges: %d owned, %d watched of %d; %s", g.owned, g.watched, len(f.mailboxes), f.spread(holders))
	}
	return ""
}

// SIGTERM of one of three instances (a rolling restart): it releases its
// leases within 5 s and the others take them at once, with a TTL (20 s)
// far longer than that, so nothing waits for a lease to expire. They watch
// them, and mail appended to its mailboxes right after the signal is
// stored exactly once, within 8 s: well before the TTL. (Fair shares are
// TestFleetRebalanceAndKill's; here they do not matter.)
func TestFleetGracefulStopHandsOver(t *testing.T) {
	testserver.SkipShort(t, "a fleet of helpdesk processes")
	const n, ttl = 45, 20 * time.Second
	f := newFleet(t, ttl.String(), testserver.StartDovecotFleet(t, testserver.DovecotFleetOptions{Connections: 2 * n}), n, 5)
	for range 3 {
		f.startInstance()
	}
	f.waitSettled(time.Minute, false, "three instances")
	victim, its := f.firstInstanceAndItsMailboxes()
	victim.signal(syscall.SIGTERM)
	stopped := time.Now()
	delivery := f.startDeliver(its)
	released := f.waitReleased(victim, stopped.Add(5*time.Second))
	takenOver := f.waitTakenOver(victim, its, false, stopped.Add(5*time.Second))
	watched := f.waitTakenOver(victim, its, true, stopped.Add(8*time.Second))
	t.Logf("%d leases of the stopped instance released %s after SIGTERM, owned by the others %s, watched %s (TTL %s)",
		len(its), ms(released.Sub(stopped)), ms(takenOver.Sub(stopped)),
		ms(watched.Sub(stopped)), ttl)
	if code := victim.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("stopped instance exited %d:\n%s", code, victim.failureLog())
	}
	lat := sortedDurations(f.requireStored(delivery.wait(), 8*time.Second, "mail appended right after SIGTERM"))
	t.Logf("mail appended right after SIGTERM: stored p50 %s, max %s", ms(percentile(lat, 50)), ms(lat[len(lat)-1]))
	f.waitSettled(2*ttl, false, "two instances after the stop")
	f.requireExactlyOnce()
}

// waitReleased waits until no lock key names the instance as its holder
// and returns when it saw that; the test fails past deadline.
func (f *fleet) waitReleased(in *instance, deadline time.Time) time.Time {
	f.t.Helper()
	for {
		holders, err := f.holders()
		if err == nil && !slices.ContainsFunc(f.mailboxes, func(id int64) bool { return heldBy(holders, id, in) }) {
			return time.Now()
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("instance %s still holds leases 5 s after SIGTERM: %s (err %v)", in.name, f.spread(holders), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func heldBy(holders map[int64]leaseview.Holder, id int64, in *instance) bool {
	h, ok := holders[id]
	return ok && h.PID == in.pid()
}
