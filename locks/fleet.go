package locks

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// Fleet is this instance's membership of the fetch fleet. It announces the
// instance with a heartbeat and keeps the live members as last seen, so
// that the fetch service can work out its share of the mailboxes (Rank).
//
// Membership is only a hint: two instances may briefly see different
// members and both want a mailbox. The lease decides who fetches it and
// the fence decides whose writes count.
type Fleet struct {
	self     leaseview.Member
	backend  fleetBackend
	interval time.Duration // between heartbeats; self.TTLMillis is how long a member counts as live without one

	mu      sync.Mutex
	members []string // sorted; self included while joined
	changed chan struct{}

	cancel context.CancelFunc
	done   chan struct{}
}

// fleetBackend is where members announce themselves.
type fleetBackend interface {
	// heartbeat records self as alive now, drops members not heard from
	// for their TTLMillis and returns the live ones, self included.
	heartbeat(ctx context.Context, self leaseview.Member) ([]leaseview.Member, error)
	// leave removes instance at once.
	leave(ctx context.Context, instance string) error
}

func newFleet(opts Options, b fleetBackend) *Fleet {
	opts = opts.withDefaults()
	// Several heartbeats per member TTL, and the member TTL well inside
	// the lease TTL: by the time a dead instance's leases expire, the
	// others have stopped counting it.
	memberTTL := opts.TTL / 2
	return &Fleet{
		self: leaseview.Member{
			Instance:  opts.Instance,
			Host:      opts.Host,
			PID:       opts.PID,
			StartedAt: time.Now().UTC(),
			TTLMillis: memberTTL.Milliseconds(),
		},
		backend:  b,
		interval: min(opts.TTL/10, 2*time.Second),
		changed:  make(chan struct{}, 1),
	}
}

// Self is this instance's ID, the Instance its leases carry.
func (f *Fleet) Self() string { return f.self.Instance }

// Members are the live members as last seen, sorted.
func (f *Fleet) Members() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.members
}

// Changed receives a value (coalesced) whenever Members changes.
func (f *Fleet) Changed() <-chan struct{} { return f.changed }

// SetOwned is the count of mailboxes the next heartbeat announces.
func (f *Fleet) SetOwned(n int) {
	f.mu.Lock()
	f.self.Owned = n
	f.mu.Unlock()
}

// Start joins the fleet (the first heartbeat is made before it returns, so
// Members is known) and keeps heartbeating until Stop.
func (f *Fleet) Start(ctx context.Context) error {
	if err := f.beat(ctx); err != nil {
		return err
	}
	ctx, f.cancel = context.WithCancel(context.WithoutCancel(ctx))
	f.done = make(chan struct{})
	go f.loop(ctx)
	return nil
}

// Stop leaves the fleet at once, so that the others take over this
// instance's share without waiting for its heartbeat to expire.
func (f *Fleet) Stop() {
	if f.cancel == nil {
		return
	}
	f.stopBeating()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = f.backend.leave(ctx, f.self.Instance)
}

// stopBeating ends the heartbeat loop without leaving, as a crash would:
// the others drop this member once its last heartbeat is TTLMillis old.
func (f *Fleet) stopBeating() {
	f.cancel()
	<-f.done
}

func (f *Fleet) loop(ctx context.Context) {
	defer close(f.done)
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A failed heartbeat keeps the last members: the leases, not the
		// membership, keep a mailbox from being fetched twice.
		_ = f.beat(ctx)
	}
}

func (f *Fleet) beat(ctx context.Context) error {
	f.mu.Lock()
	self := f.self
	f.mu.Unlock()
	self.LastHeartbeat = time.Now().UTC()
	ctx, cancel := context.WithTimeout(ctx, max(f.interval, time.Second))
	defer cancel()
	live, err := f.backend.heartbeat(ctx, self)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(live))
	for _, m := range live {
		names = append(names, m.Instance)
	}
	slices.Sort(names)
	f.mu.Lock()
	same := slices.Equal(names, f.members)
	f.members = names
	f.mu.Unlock()
	if !same {
		select {
		case f.changed <- struct{}{}:
		default:
		}
	}
	return nil
}

// localFleet is the membership of the embedded mode: one process, so the
// only member is this instance (see Local.Fleet).
type localFleet struct {
	mu   sync.Mutex
	self *leaseview.Member
}

func (l *localFleet) heartbeat(_ context.Context, self leaseview.Member) ([]leaseview.Member, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.self = &self
	return []leaseview.Member{self}, nil
}

func (l *localFleet) leave(context.Context, string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.self = nil
	return nil
}

func (l *localFleet) view() []leaseview.Member {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.self == nil {
		return []leaseview.Member{}
	}
	return []leaseview.Member{*l.self}
}
