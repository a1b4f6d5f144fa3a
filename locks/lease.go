package locks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/helpdesk/helpdesk/locks/leaseview"
)

var (
	// ErrHeld means another process holds the mailbox. Obtain's error is then
	// a *HeldError; LockDataDir's error wraps it too.
	ErrHeld = errors.New("locks: held by another process")
	// ErrLost is wrapped by Lease.Err when the lease ended before Release.
	ErrLost = errors.New("locks: lease lost")
	// ErrReleased is Lease.Err after Release of a lease that was not lost.
	ErrReleased = errors.New("locks: lease released")
)

// errNotHeld is what a backend answers when the key is gone or belongs to
// someone else: the lease is lost and retrying cannot bring it back.
var errNotHeld = errors.New("not held")

// Locker hands out per-mailbox leases.
type Locker interface {
	// Obtain takes the mailbox's lease without waiting. When another process holds it,
	// the error wraps ErrHeld and is a *HeldError carrying the holder's Holder (may be nil if unknown).
	Obtain(ctx context.Context, mailboxID, fence int64) (*Lease, error)
	// Free tells, in one round trip, which of the mailboxes nobody holds:
	// the i-th answer is for ids[i]. The fetch service uses it to find
	// orphaned mailboxes; it is a snapshot, and only Obtain decides.
	Free(ctx context.Context, ids []int64) ([]bool, error)
}

// HeldError is Obtain's error when another process holds the mailbox.
type HeldError struct {
	MailboxID int64
	Holder    *leaseview.Holder // nil when the holder could not be read
}

func (e *HeldError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("locks: mailbox %d is held by another process", e.MailboxID)
	}
	return fmt.Sprintf("locks: mailbox %d is held by %s", e.MailboxID, e.Holder)
}

func (e *HeldError) Unwrap() error { return ErrHeld }

// Options configure a Locker.
type Options struct {
	TTL      time.Duration // lease lifetime without renewal; default 30s
	Host     string        // default os.Hostname()
	PID      int           // default os.Getpid()
	Instance string        // default a random hex string (NewInstanceID), distinct per Locker
	Metrics  *Metrics      // optional
}

const defaultTTL = 30 * time.Second

func (o Options) withDefaults() Options {
	if o.TTL <= 0 {
		o.TTL = defaultTTL
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	if o.Instance == "" {
		o.Instance = NewInstanceID()
	}
	return o
}

// NewInstanceID returns a random instance ID. A process makes one and gives
// it to both its Locker and its Fleet, so that its leases name the fleet
// member that holds them.
func NewInstanceID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return hex.EncodeToString(b)
}

// timing derives the renewal schedule from the TTL.
type timing struct {
	ttl            time.Duration
	interval       time.Duration // between renewals: three chances per TTL
	callTimeout    time.Duration // one renewal round trip; a slow answer is a failed one
	retryBackoff   time.Duration // pause before retrying a failed renewal
	maxRetries     int           // quick retries before falling back to interval
	margin         time.Duration // we give up this much before the server's expiry
	releaseTimeout time.Duration
}

func timingFor(ttl time.Duration) timing {
	return timing{
		ttl:            ttl,
		interval:       ttl / 3,
		callTimeout:    ttl / 6,
		retryBackoff:   ttl / 20,
		maxRetries:     3,
		margin:         ttl / 10,
		releaseTimeout: min(ttl, 2*time.Second),
	}
}

// leaseBackend is the store-specific part of a lease. Renewal is the
// Locker's (see renewal), for all its leases at once.
type leaseBackend interface {
	release(ctx context.Context) error // errNotHeld when there was nothing of ours to delete
}

// Lease is a held mailbox lock. Its Locker renews it in the background; its
// Context is cancelled the moment it can no longer be trusted, so a fetch
// running under that context stops writing (invariant 3).
type Lease struct {
	mailboxID int64
	holder    leaseview.Holder
	backend   leaseBackend
	renewal   *renewal // the Locker's, which renews this lease

	parent context.Context
	ctx    context.Context
	cancel context.CancelCauseFunc

	releaseOnce sync.Once

	mu       sync.Mutex
	err      error       // loss reason or ErrReleased; nil while held
	lastErr  error       // last failed renewal, for the loss message
	deadline *time.Timer // the local deadline; fires deadlinePassed
}

// newLease hands a lease acquired by a call sent at sent to r. The server
// started its TTL after sent, so sent+TTL-margin is a safe local deadline
// whatever the network delay was.
func newLease(parent context.Context, mailboxID int64, h leaseview.Holder, b leaseBackend, r *renewal, sent time.Time) *Lease {
	l := &Lease{
		mailboxID: mailboxID,
		holder:    h,
		backend:   b,
		renewal:   r,
		parent:    parent,
	}
	l.ctx, l.cancel = context.WithCancelCause(parent)
	l.mu.Lock()
	l.deadline = time.AfterFunc(time.Until(r.deadlineAfter(sent)), l.deadlinePassed)
	l.mu.Unlock()
	r.add(l)
	return l
}

// Context is cancelled at once when the lease is lost (a renewal answers
// "not held", or the local deadline passes without a successful renewal),
// when it is released, or when the ctx given to Obtain is done. Only the
// first two end the lease itself: after the caller's ctx is done the lease
// still renews until Release.
func (l *Lease) Context() context.Context { return l.ctx }

// MailboxID is the mailbox the lease is for.
func (l *Lease) MailboxID() int64 { return l.mailboxID }

// Fence is the fencing number given to Obtain.
func (l *Lease) Fence() int64 { return l.holder.Fence }

// Holder is what was stored with the lock.
func (l *Lease) Holder() leaseview.Holder { return l.holder }

// Err says why the lease ended: an error wrapping ErrLost, or ErrReleased.
// It is nil while the lease is held, even if the caller's ctx is done.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Release cancels Context, stops renewing and deletes the lock if it is
// still ours. It is idempotent and works when the caller's ctx is already
// cancelled (shutdown is when leases get released). A failed delete is not
// reported: the key then expires by itself within the TTL. A renewal in
// flight meanwhile is harmless: it only extends the key while it holds
// our value, and the delete only removes it while it does.
func (l *Lease) Release() {
	l.releaseOnce.Do(func() {
		l.mu.Lock()
		if l.err == nil {
			l.err = ErrReleased
		}
		l.deadline.Stop()
		l.mu.Unlock()
		// Stop the holder's work before anyone else can take the lock.
		l.cancel(ErrReleased)
		l.renewal.remove(l)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(l.parent), l.renewal.timing.releaseTimeout)
		defer cancel()
		_ = l.backend.release(ctx)
	})
}

// renewed moves the local deadline after a successful renewal sent at
// sent.
func (l *Lease) renewed(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || !l.deadline.Stop() {
		// Lost or released meanwhile (or the deadline is firing right now):
		// a late success revives nothing.
		return
	}
	l.deadline.Reset(time.Until(l.renewal.deadlineAfter(sent)))
}

// renewFailed notes a transient failure, for the message of a loss by
// deadline.
func (l *Lease) renewFailed(err error) {
	l.mu.Lock()
	l.lastErr = err
	l.mu.Unlock()
}

func (l *Lease) deadlinePassed() {
	l.mu.Lock()
	last := l.lastErr
	l.mu.Unlock()
	err := fmt.Errorf("%w: mailbox %d: no successful renewal before the local deadline", ErrLost, l.mailboxID)
	if last != nil {
		err = fmt.Errorf("%w (last error: %v)", err, last)
	}
	l.lose(err)
}

// lose ends the lease once; later calls and a concurrent Release are no-ops.
func (l *Lease) lose(err error) {
	l.mu.Lock()
	if l.err != nil {
		l.mu.Unlock()
		return
	}
	l.err = err
	l.deadline.Stop()
	l.mu.Unlock()
	l.renewal.metrics.lost() // before cancel, so whoever sees Done sees the count
	l.cancel(err)
	l.renewal.remove(l)
}
