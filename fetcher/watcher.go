package fetcher

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/locks"
)

// watcher keeps one mailbox live while it is this instance's: it takes the
// lease and keeps it, keeps one IMAP session open, and runs over that
// session whenever the server reports new mail (IDLE), the poll interval
// passes (in IDLE: and a folder's STATUS shows a change) or a fetch is
// requested. It stops between runs when told to hand
// the mailbox over (then releases the lease at once), and after committing
// the current message when the service stops.
type watcher struct {
	s    *Service
	id   int64
	wake chan struct{} // a fetch request; buffered, coalesced
	// requested says a fetch request is open: the next run closes the
	// requests made before it started.
	requested atomic.Bool

	// quit ends on handover or service stop: the watcher stops between
	// runs. Only the service's own ctx ends a run early.
	quit     context.Context
	handOver context.CancelFunc

	owned, watched bool // as counted in the service's gauges (watcher goroutine only)
}

func newWatcher(ctx context.Context, s *Service, id int64) *watcher {
	w := &watcher{s: s, id: id, wake: make(chan struct{}, 1)}
	w.quit, w.handOver = context.WithCancel(ctx)
	return w
}

// wakeUp asks for a run now (a fetch request).
func (w *watcher) wakeUp() {
	w.requested.Store(true)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// loop takes the lease, keeps the mailbox live under it, and takes it again
// when it is lost, until told to stop. ctx is the service's.
func (w *watcher) loop(ctx context.Context) {
	defer w.handOver() // frees quit's resources
	heldTries, failures := 0, 0
	for w.quit.Err() == nil {
		_, err := w.s.f.withLease(ctx, w.s.locker, w.id, func(leaseCtx context.Context, fence int64) (Summary, error) {
			heldTries, failures = 0, 0
			return Summary{}, w.holdLease(ctx, leaseCtx, fence)
		})
		if ctx.Err() != nil {
			return // the service stops
		}
		var wait time.Duration
		switch {
		case errors.Is(err, locks.ErrHeld):
			// Another instance holds it: one handing it over (it releases
			// between runs), one that sees the fleet differently, or a dead
			// one whose lease runs out.
			heldTries++
			wait = w.heldRetry(ctx, heldTries)
		case errors.Is(err, locks.ErrLost) || errors.Is(err, helpdesk.ErrFenced):
			// Not a failure of the mailbox: the lease went (Redis
			// restarted, say) or a newer holder fenced us off. Take it
			// again as soon as it is free.
			w.s.log.Warn("fetch stopped: lease lost", "mailbox", w.id, "err", err)
			wait = jitter(300 * time.Millisecond)
		case err != nil: // the fence could not be read or claimed, say
			w.s.log.Warn("fetch failed", "mailbox", w.id, "err", err)
			failures++
			wait = backoff(w.s.pollInterval(w.id), failures)
		}
		if w.quit.Err() != nil {
			return // handed over
		}
		w.pause(w.quit, wait)
	}
}

// heldRetry is when to try again for a lease another instance holds,
// which is ours by the fleet: soon (after 250 ms, doubling up to every
// 4 s), since the holder hands it over between runs — at once when it is
// idle, after a first import's run maybe long after; never later than its
// TTL runs out, in case the holder died.
func (w *watcher) heldRetry(ctx context.Context, tries int) time.Duration {
	wait := 250 * time.Millisecond << min(tries-1, 4)
	if st, err := w.s.inspector.Inspect(ctx, w.id); err == nil {
		if !st.Held {
			return jitter(300 * time.Millisecond)
		}
		wait = min(wait, st.TTLLeft)
	}
	return wait + jitter(wait/4)
}

// holdLease keeps the mailbox live under one lease: a session, runs over
// it, and a new session after one fails or drops, until told to stop or
// the lease is lost. It returns nil on a stop, else why the lease ended.
func (w *watcher) holdLease(ctx, leaseCtx context.Context, fence int64) error {
	w.setOwned(true)
	defer w.setOwned(false)
	drops := 0 // sessions in a row that ended before watching
	for {
		err := w.session(ctx, leaseCtx, fence)
		if w.watched {
			drops = 0
		}
		w.setWatched(false)
		switch {
		case leaseCtx.Err() != nil && ctx.Err() == nil:
			return errors.Join(err, context.Cause(leaseCtx)) // lost
		case errors.Is(err, helpdesk.ErrFenced), w.quit.Err() != nil:
			return err
		case err != nil:
			w.s.log.Warn("fetch failed", "mailbox", w.id, "err", err)
		}
		drops++
		w.pause(leaseCtx, w.redialAfter(leaseCtx, drops))
		if w.quit.Err() != nil {
			return nil
		}
		if leaseCtx.Err() != nil {
			return context.Cause(leaseCtx)
		}
	}
}

// redialAfter is how long to wait before a new session: the usual backoff
// on the mailbox's consecutive failed runs, or, when its runs succeed and
// the session merely dropped, a second, doubling while sessions keep
// dropping before they get to watch.
func (w *watcher) redialAfter(ctx context.Context, drops int) time.Duration {
	interval := w.s.pollInterval(w.id)
	failures, err := w.s.store.MailboxFailures(ctx, w.id)
	if err != nil {
		failures = 1
	}
	if failures > 0 {
		return backoff(interval, failures)
	}
	return min(backoff(time.Second, drops), interval)
}

// session dials and runs, then waits in IDLE or for the next poll and runs
// again over the same session, until the session fails or the watcher is
// told to stop (nil).
func (w *watcher) session(ctx, leaseCtx context.Context, fence int64) error {
	m, err := w.s.store.Mailbox(leaseCtx, w.id)
	if err != nil {
		return err
	}
	sess, err := w.dial(ctx, leaseCtx, m, fence)
	if err != nil {
		return err
	}
	defer sess.Close()
	trigger := "schedule"
	// The first run also serves the requests made while nobody watched.
	w.requested.Store(true)
	var started time.Time
	for w.quit.Err() == nil {
		if trigger != "" {
			started = time.Now()
			if err := w.run(ctx, leaseCtx, sess, m, fence, trigger); err != nil {
				return err
			}
			w.setWatched(true)
		}
		// Settings changed meanwhile (folders, interval) apply from now.
		if latest, ok := w.s.mailbox(w.id); ok {
			m = &latest
		}
		if trigger, err = w.waitForWork(leaseCtx, sess, m, fence, started); err != nil {
			return err
		}
	}
	return nil
}

// dial opens the session, as one of the logins the limiter lets through at
// once. A failure is recorded as a failed run, so the status page shows it.
func (w *watcher) dial(ctx, leaseCtx context.Context, m *helpdesk.Mailbox, fence int64) (*Session, error) {
	release, err := w.s.limits.login(w.quit)
	if err != nil {
		return nil, err // told to stop while waiting
	}
	sess, err := w.s.f.dial(leaseCtx, m)
	release()
	if err != nil {
		job := Job{MailboxID: w.id, Fence: fence, Trigger: "schedule"}
		w.s.f.newRun(ctx.Done(), nil, m, job).recordFailure(leaseCtx, err)
		w.s.afterRun(leaseCtx, w.id, err)
	}
	return sess, err
}

// run is one run over the open session. When a fetch request is open, it
// closes those made before it started: it served them. (Without one it
// spares the database the write.)
func (w *watcher) run(ctx, leaseCtx context.Context, sess *Session, m *helpdesk.Mailbox, fence int64, trigger string) error {
	job := Job{MailboxID: w.id, Fence: fence, Trigger: trigger, limits: w.s.limits}
	if p := w.s.cfg.Progress; p != nil {
		job.Progress = func(folder string, done, total int) { p(w.id, folder, done, total) }
	}
	requested := w.requested.Swap(false)
	started := time.Now()
	_, err := w.s.f.RunSession(leaseCtx, ctx.Done(), sess, m, job)
	if requested {
		if cerr := w.s.store.CompleteFetchRequests(leaseCtx, w.id, started); cerr != nil && err == nil {
			err = cerr
		}
	}
	// A request still open is signalled again by the service's next tick.
	select {
	case <-w.wake:
	default:
	}
	w.s.afterRun(leaseCtx, w.id, err)
	return err
}

// waitForWork waits for the next run: in IDLE where the server offers it,
// else until the poll interval after the last run's start (plus up to 5 %,
// so that mailboxes spread out). It returns the next run's trigger; ""
// when there is none yet (the watcher is told to stop, or an IDLE ran its
// time and nothing changed); or the error that ended the session.
func (w *watcher) waitForWork(ctx context.Context, sess *Session, m *helpdesk.Mailbox, fence int64, lastRun time.Time) (string, error) {
	interval := time.Duration(m.PollIntervalS) * time.Second
	if !sess.CanIdle() {
		return w.pollWait(sess, lastRun.Add(interval+jitter(interval/20)))
	}
	// IDLE watches the first folder. If the run ended in another one,
	// select it again, and run at once if mail came meanwhile: the SELECT
	// reports it in its answer, not as the EXISTS that ends IDLE.
	if sess.selected != m.Folders[0] {
		folder, err := sess.Select(m.Folders[0])
		if err != nil {
			return "", err
		}
		arrived, err := arrivedSince(ctx, w.s.store.FetchHandle(w.id, fence), folder)
		if err != nil || arrived {
			return IdleNewMail, err
		}
	}
	// Re-issue IDLE well within the 29 minutes servers allow.
	why, err := sess.Idle(w.quit, min(interval, 25*time.Minute), w.wake)
	if why == IdleStopped {
		if err == nil && w.quit.Err() == nil {
			err = errors.New("connection closed during IDLE")
		}
		return "", err
	}
	if err != nil {
		return "", err
	}
	if why == IdleTimeout {
		// IDLE watches the first folder only. Run if any folder changed
		// since this session's latest SELECT of it (mail to another
		// folder, or mail that came during the last run after its
		// SELECT); else a run would find nothing and only write to the
		// database, so IDLE again.
		if changed, err := sess.Changed(m.Folders); err != nil || !changed {
			return "", err
		}
	}
	return why, nil
}

// pollWait waits until due, a fetch request, a stop or the connection's end.
func (w *watcher) pollWait(sess *Session, due time.Time) (string, error) {
	t := time.NewTimer(time.Until(due))
	defer t.Stop()
	select {
	case <-t.C:
		return IdleTimeout, nil
	case <-w.wake:
		return IdleWoken, nil
	case <-w.quit.Done():
		return "", nil
	case <-sess.Closed():
		return "", fmt.Errorf("connection closed while waiting to poll")
	}
}

// pause waits d, or less when ctx ends, the watcher is told to stop or a
// fetch is requested.
func (w *watcher) pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.wake:
	case <-ctx.Done():
	case <-w.quit.Done():
	}
}

func (w *watcher) setOwned(on bool) {
	if w.owned != on {
		w.owned = on
		w.s.countOwned(on)
	}
}

func (w *watcher) setWatched(on bool) {
	if w.watched != on {
		w.watched = on
		w.s.countWatched(on)
	}
}
