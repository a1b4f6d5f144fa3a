package locks

import (
	"context"
	"sync"
	"time"

	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// Local is the in-process Locker of the embedded default (one process per
// data directory, see LockDataDir). It keeps Redis's semantics: a lease
// expires TTL after its last renewal, renewal and release only touch the
// holder's own entry, and an expired entry counts as absent.
type Local struct {
	opts    Options
	renewal *renewal

	mu    sync.Mutex
	held  map[string]*localEntry // by leaseview.Key(mailboxID)
	fleet localFleet
}

// localEntry is one acquisition; its pointer plays the role of the token.
type localEntry struct {
	holder    leaseview.Holder
	renewedAt time.Time // wall clock, for LastHeartbeat
	expires   time.Time // monotonic
}

func (e *localEntry) live(now time.Time) bool { return now.Before(e.expires) }

// NewLocal returns an empty in-process Locker.
func NewLocal(opts Options) *Local {
	opts = opts.withDefaults()
	l := &Local{opts: opts, held: make(map[string]*localEntry)}
	l.renewal = newRenewal(l.renew, timingFor(opts.TTL), opts.Metrics)
	return l
}

// Obtain implements Locker.
func (l *Local) Obtain(ctx context.Context, mailboxID, fence int64) (*Lease, error) {
	b, h, sent, err := l.acquire(ctx, mailboxID, fence)
	if err != nil {
		return nil, err
	}
	l.opts.Metrics.acquired()
	return newLease(ctx, mailboxID, h, b, l.renewal, sent), nil
}

// Free implements Locker.
func (l *Local) Free(ctx context.Context, ids []int64) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	free := make([]bool, len(ids))
	for i, id := range ids {
		e := l.held[leaseview.Key(id)]
		free[i] = e == nil || !e.live(now)
	}
	return free, nil
}

func (l *Local) acquire(ctx context.Context, mailboxID, fence int64) (*localLease, leaseview.Holder, time.Time, error) {
	now := time.Now()
	if err := ctx.Err(); err != nil {
		return nil, leaseview.Holder{}, now, err
	}
	key := leaseview.Key(mailboxID)
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.held[key]; e != nil && e.live(now) {
		l.opts.Metrics.notObtained()
		h := e.holder
		return nil, leaseview.Holder{}, now, &HeldError{MailboxID: mailboxID, Holder: &h}
	}
	e := &localEntry{
		holder: leaseview.Holder{
			Host:       l.opts.Host,
			PID:        l.opts.PID,
			Instance:   l.opts.Instance,
			AcquiredAt: now.UTC(),
			TTLMillis:  l.opts.TTL.Milliseconds(),
			Fence:      fence,
		},
		renewedAt: now.UTC(),
		expires:   now.Add(l.opts.TTL),
	}
	l.held[key] = e
	return &localLease{owner: l, key: key, entry: e}, e.holder, now, nil
}

// Fleet returns the membership of the embedded mode: this instance alone,
// shown by Inspector.
func (l *Local) Fleet() *Fleet { return newFleet(l.opts, &l.fleet) }

// Inspector returns a read-only view of this Locker's leases.
func (l *Local) Inspector() leaseview.Inspector { return &localInspector{locks: l} }

type localLease struct {
	owner *Local
	key   string
	entry *localEntry
}

// renew renews leases under one lock of the store (see renewal). Only
// this Locker's leases come here.
func (l *Local) renew(ctx context.Context, leases []leaseBackend) []error {
	errs := make([]error, len(leases))
	if err := ctx.Err(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, b := range leases {
		ll := b.(*localLease)
		if l.held[ll.key] != ll.entry || !ll.entry.live(now) {
			errs[i] = errNotHeld
			continue
		}
		ll.entry.renewedAt = now.UTC()
		ll.entry.expires = now.Add(l.opts.TTL)
	}
	return errs
}

func (ll *localLease) release(context.Context) error {
	l := ll.owner
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[ll.key] != ll.entry {
		return errNotHeld
	}
	delete(l.held, ll.key)
	return nil
}

// localInspector only reads; an expired entry is reported idle and left in
// place (the next Obtain replaces it), as with Redis.
type localInspector struct {
	locks *Local
}

func (i *localInspector) InspectMany(ctx context.Context, ids []int64) ([]leaseview.State, error) {
	out := make([]leaseview.State, len(ids))
	for n, id := range ids {
		st, err := i.Inspect(ctx, id)
		if err != nil {
			return nil, err
		}
		out[n] = st
	}
	return out, nil
}

func (i *localInspector) Fleet(ctx context.Context) ([]leaseview.Member, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return i.locks.fleet.view(), nil
}

func (i *localInspector) Inspect(ctx context.Context, mailboxID int64) (leaseview.State, error) {
	if err := ctx.Err(); err != nil {
		return leaseview.State{}, err
	}
	now := time.Now()
	l := i.locks
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.held[leaseview.Key(mailboxID)]
	if e == nil || !e.live(now) {
		return leaseview.State{}, nil
	}
	h := e.holder
	return leaseview.State{Held: true, Holder: &h, LastHeartbeat: e.renewedAt, TTLLeft: e.expires.Sub(now)}, nil
}
