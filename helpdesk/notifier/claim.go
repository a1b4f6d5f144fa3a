package notifier

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// A claim is one batch of outbox rows that the service claimed and holds
// until every row's outcome is recorded; its workers send the rows. While it is held, one goroutine renews
// the lease every LeaseFor/3, so a slow server or a loaded CPU does not
// let the lease run out under a send (only renewals failing for most of a
// lease do), and another records outcomes as the workers decide them:
// every "sent" decided since the last write in one MarkOutboxSent, at most
// writePause apart, so a worker goes on to the next mail at once. A slow
// write delays neither the renewals nor the end of the claim.
//
// The claim's context ends when it is lost: no renewal came through and
// the lease is about to run out (margin before it does), or a renewal
// found a row not yet sent taken by someone else. A send in progress is
// then cut off, and the workers give the rest back.
type claim struct {
	q        Queue
	owner    string
	rows     []helpdesk.OutboxMessage
	leaseFor time.Duration
	log      *slog.Logger

	ctx    context.Context
	lose   context.CancelCauseFunc
	expiry *time.Timer   // loses the claim margin before the lease runs out
	kick   chan struct{} // an outcome was decided, or the worker is done
	done   chan struct{} // closed when the recording has ended

	mu       sync.Mutex
	held     map[int64]helpdesk.OutboxMessage // rows whose outcome is not recorded yet
	open     map[int64]bool                   // rows whose outcome is not decided yet
	decided  []outcome                        // decided, not recorded yet
	finished bool                             // every row was handed to a worker
}

// errClaimLost is the cause of a claim's context when the claim is lost.
var errClaimLost = errors.New("outbox claim lost: its lease ran out or another notifier took a row")

type outcomeKind int

const (
	sent        outcomeKind = iota
	rescheduled             // a temporary failure: due again at next
	released                // not attempted (no SMTP server, stopping): due again at next, attempt given back
	failed                  // for good: an admin may retry it
)

// outcome is what became of one claimed row.
type outcome struct {
	m    helpdesk.OutboxMessage
	kind outcomeKind
	next time.Time // rescheduled, released
	text string    // the error, or the reason for a release
}

// margin is how long before the lease runs out an unrenewed claim counts
// as lost, so a send is cut off while the row is still ours.
func margin(leaseFor time.Duration) time.Duration { return leaseFor / 10 }

// hold starts holding a claim of rows by owner: renewing it and recording
// its outcomes, with a context of their own, so that outcomes are recorded
// even while the service stops.
func (s *Service) hold(ctx context.Context, owner string, rows []helpdesk.OutboxMessage) *claim {
	c := &claim{
		q: s.store, owner: owner, rows: rows, leaseFor: s.cfg.LeaseFor, log: s.log.With("lease_owner", owner),
		kick: make(chan struct{}, 1), done: make(chan struct{}),
		held: make(map[int64]helpdesk.OutboxMessage, len(rows)), open: make(map[int64]bool, len(rows)),
	}
	c.ctx, c.lose = context.WithCancelCause(ctx)
	validUntil := time.Now().Add(s.cfg.LeaseFor)
	for _, m := range rows {
		c.held[m.ID], c.open[m.ID] = m, true
		if m.LeaseUntil != nil && m.LeaseUntil.Before(validUntil) {
			validUntil = *m.LeaseUntil
		}
	}
	c.expiry = time.AfterFunc(time.Until(validUntil.Add(-margin(s.cfg.LeaseFor))), func() {
		if c.ctx.Err() == nil {
			c.log.Warn("outbox: claim not renewed in time; its sends are cut off and its rows given back")
			c.lose(errClaimLost)
		}
	})
	keep := context.WithoutCancel(ctx)
	go c.renewals(keep)
	go c.record(keep)
	return c
}

// decide hands a row's outcome to the recording.
func (c *claim) decide(o outcome) {
	c.mu.Lock()
	delete(c.open, o.m.ID)
	c.decided = append(c.decided, o)
	c.mu.Unlock()
	c.wake()
}

// close tells the recording that every row was handed out: it ends once
// each is decided and recorded.
func (c *claim) close() {
	c.mu.Lock()
	c.finished = true
	c.mu.Unlock()
	c.wake()
}

// wait waits until every outcome is recorded (or given up on).
func (c *claim) wait() {
	<-c.done
	c.expiry.Stop()
	c.lose(nil)
}

func (c *claim) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// writePause is the least time between two writes of a claim's outcomes:
// the "sent" of a fast server's mails are marked a few at a time, for at
// most this much longer a window in which a crash resends them.
const writePause = 20 * time.Millisecond

// renewals renews the lease every LeaseFor/3 until the recording ends.
func (c *claim) renewals(ctx context.Context) {
	tick := time.NewTicker(c.leaseFor / 3)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
			if until, ok := c.renew(ctx); ok {
				c.expiry.Reset(time.Until(until.Add(-margin(c.leaseFor))))
			}
		}
	}
}

// record records outcomes until every row is decided and everything is
// recorded. A write that fails is tried again after a pause; once the
// claim is lost, or the service stops, three failures in a row give the
// rest up (the rows go back when their lease runs out).
func (c *claim) record(ctx context.Context) {
	defer close(c.done)
	var pause <-chan time.Time // no write until it fires
	failures := 0
	for {
		if pause == nil {
			wrote, err := c.write(ctx)
			switch {
			case err != nil:
				failures++
				if c.ctx.Err() != nil && failures >= 3 {
					c.giveUp(err)
					return
				}
				pause = time.After(min(time.Duration(failures)*time.Second, c.leaseFor/3))
			case wrote:
				failures = 0
				pause = time.After(writePause)
			}
		}
		c.mu.Lock()
		over := c.finished && len(c.open) == 0 && len(c.decided) == 0
		c.mu.Unlock()
		if over {
			return
		}
		select {
		case <-c.kick:
		case <-pause:
			pause = nil
		}
	}
}

// renew extends the lease of the rows still held. A row not yet sent that
// did not get renewed was taken: the claim is lost. It reports the new
// end of the lease when every row not yet decided was renewed.
func (c *claim) renew(ctx context.Context) (time.Time, bool) {
	if c.ctx.Err() != nil {
		return time.Time{}, false // lost or stopping: nothing more is sent
	}
	c.mu.Lock()
	ids := make([]int64, 0, len(c.held))
	for id := range c.held {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	until := time.Now().Add(c.leaseFor)
	// A late renewal still helps as long as the lease lasts; the expiry
	// timer, not this timeout, decides when the claim is lost.
	rctx, cancel := context.WithTimeout(ctx, c.leaseFor)
	renewed, err := c.q.RenewOutboxClaim(rctx, c.owner, ids, until)
	cancel()
	if err != nil {
		c.log.Warn("outbox: cannot renew claim", "err", err)
		return time.Time{}, false
	}
	got := make(map[int64]bool, len(renewed))
	for _, id := range renewed {
		got[id] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		// A decided row that was not renewed is left to record: a "sent"
		// one is then not marked, and MarkOutboxSent's count tells.
		if !got[id] && c.open[id] {
			c.log.Error("outbox: a claimed row was taken by another notifier; its claim is given up", "outbox_id", id)
			c.lose(errClaimLost)
			return time.Time{}, false
		}
	}
	return until, true
}

// write writes the outcomes decided so far, if any: all "sent" in one
// statement, the others one by one. What fails stays to be written again.
func (c *claim) write(ctx context.Context) (wrote bool, err error) {
	c.mu.Lock()
	todo := c.decided
	c.decided = nil
	c.mu.Unlock()
	if len(todo) == 0 {
		return false, nil
	}
	var left []outcome
	var errs error
	var sentIDs []int64
	for _, o := range todo {
		if o.kind == sent {
			sentIDs = append(sentIDs, o.m.ID)
			continue
		}
		if err := c.writeOne(ctx, o); err != nil {
			left = append(left, o)
			errs = errors.Join(errs, err)
		}
	}
	if len(sentIDs) > 0 {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		n, err := c.q.MarkOutboxSent(wctx, c.owner, sentIDs)
		cancel()
		switch {
		case err != nil:
			for _, o := range todo {
				if o.kind == sent {
					left = append(left, o)
				}
			}
			errs = errors.Join(errs, err)
		case n < len(sentIDs):
			c.log.Error("outbox: sent mails whose lease ran out before they were marked sent; they will be sent again with the same Message-ID",
				"sent", len(sentIDs), "marked", n)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range todo {
		delete(c.held, o.m.ID)
	}
	for _, o := range left {
		c.held[o.m.ID] = o.m
	}
	c.decided = append(left, c.decided...)
	return true, errs
}

// writeOne writes one outcome other than sent; each is fenced by the
// lease owner, so a row another claim took is left alone. The text is
// stored redacted: admins read it on the status page.
func (c *claim) writeOne(ctx context.Context, o outcome) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	text := helpdesk.Redact(o.text)
	switch o.kind {
	case rescheduled:
		return c.q.RescheduleOutbox(ctx, o.m, o.next, text)
	case released:
		return c.q.ReleaseOutbox(ctx, o.m, o.next, text)
	default:
		return c.q.FailOutbox(ctx, o.m, text)
	}
}

// giveUp logs the outcomes that could not be recorded; their rows go back
// to the outbox when their lease runs out.
func (c *claim) giveUp(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.decided {
		c.log.Error("outbox: cannot record outcome; the row is sent again when its lease runs out",
			"outbox_id", o.m.ID, "sent", o.kind == sent, "err", err)
	}
	c.decided = nil
}
