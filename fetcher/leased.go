package fetcher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/locks"
)

// stopGrace is how long a stopping run may take to finish its current
// message before its connection is closed.
const stopGrace = 4 * time.Second

// RunLeased is the one way a fetch runs, for the schedule, "fetch now",
// IDLE and the CLI alike: take the mailbox's lease with the next fence,
// claim that fence in the database, run, release.
//
// When ctx ends the run stops gracefully: the current message is committed,
// then the lease is released. Losing the lease stops it at once. An error
// wrapping locks.ErrHeld means another process is fetching the mailbox.
func (f *Fetcher) RunLeased(ctx context.Context, locker locks.Locker, job Job) (Summary, error) {
	return f.withLease(ctx, locker, job.MailboxID, func(leaseCtx context.Context, fence int64) (Summary, error) {
		job.Fence = fence
		return f.Run(leaseCtx, ctx.Done(), job)
	})
}

// withLease runs fn under the mailbox's lease and a freshly claimed fence.
// fn's context ends when the lease is lost, or stopGrace after ctx ends.
func (f *Fetcher) withLease(ctx context.Context, locker locks.Locker, mailboxID int64, fn func(context.Context, int64) (Summary, error)) (Summary, error) {
	sum := Summary{MailboxID: mailboxID}
	lease, fence, err := f.takeLease(ctx, locker, mailboxID)
	if err != nil {
		return sum, err
	}
	defer lease.Release()
	runCtx, cancel := context.WithCancel(lease.Context())
	defer cancel()
	stopHard := context.AfterFunc(ctx, func() { time.AfterFunc(stopGrace, cancel) })
	defer stopHard()
	sum, err = fn(runCtx, fence)
	// fn sees only a cancelled context (or a closed connection); say that
	// the lease was lost, so the caller can tell it from a failed fetch.
	if lost := lease.Err(); err != nil && errors.Is(lost, locks.ErrLost) && !errors.Is(err, locks.ErrLost) {
		err = fmt.Errorf("%w: %w", lost, err)
	}
	return sum, err
}

// takeLease obtains the mailbox's lease with the next fence and claims that
// fence. The claim loses when a holder that read the same fence has come
// and gone since (its lease already released); the lease is then taken
// again with a fresh fence, so a free mailbox is never reported busy.
func (f *Fetcher) takeLease(ctx context.Context, locker locks.Locker, mailboxID int64) (*locks.Lease, int64, error) {
	var lost error
	for range 3 {
		current, err := f.store.Fence(ctx, mailboxID)
		if err != nil {
			return nil, 0, err
		}
		fence := current + 1
		// The lease must outlive ctx so that a graceful stop can still
		// commit and release; the caller releases it in any case.
		lease, err := locker.Obtain(context.WithoutCancel(ctx), mailboxID, fence)
		if err != nil {
			return nil, 0, err
		}
		lost = f.store.ClaimFence(ctx, mailboxID, fence)
		if lost == nil {
			return lease, fence, nil
		}
		lease.Release()
		if !errors.Is(lost, helpdesk.ErrFenced) {
			return nil, 0, lost
		}
	}
	return nil, 0, fmt.Errorf("%w: %w", locks.ErrHeld, lost)
}
