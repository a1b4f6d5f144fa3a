package fetcher

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/locks"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// ServiceConfig configures the fetch service.
type ServiceConfig struct {
	// Fleet is this instance's membership of the fetch fleet; the service
	// starts and stops it. Nil: every mailbox is this instance's to try
	// (the leases still decide who fetches).
	Fleet *locks.Fleet
	// Concurrency bounds the body downloads running at once; default 32.
	Concurrency int
	// MaxBytes bounds the body bytes those downloads announced; default
	// 256 MiB.
	MaxBytes int64
	// MaxMailboxes caps the mailboxes this instance owns; default 10,000.
	MaxMailboxes int
	// LockTTL is the leases' TTL, how often the service looks for
	// mailboxes nobody holds; default 30s.
	LockTTL time.Duration
	// Progress, if set, is told how far every run has got (see Job).
	Progress func(mailboxID int64, folder string, done, total int)
	// AfterRun, if set, is called after every run (fetch alerts).
	AfterRun func(ctx context.Context, mailboxID int64, runErr error)
	Logger   *slog.Logger
}

const (
	// changeTick is how often the service reads what changed (one query):
	// "fetch now" starts within about a second.
	changeTick = time.Second
	// fullRead is how often it reads every mailbox even without a change
	// seen, in case one was missed.
	fullRead = time.Minute
)

// Service keeps every mailbox that is this instance's share live: one
// watcher per mailbox (watcher.go) holds its lease and one IMAP session,
// in IDLE where the server offers it and polling on the interval where it
// does not. Downloads and logins are bounded (limiter.go); watching is
// not. Which mailboxes are this instance's is in shares.go. Any number of
// instances may run on any number of machines: the lease makes one of them
// fetch a mailbox at a time, and the fence decides whose writes count.
type Service struct {
	f         *Fetcher
	store     *store.Store
	locker    locks.Locker
	inspector leaseview.Inspector
	fleet     *locks.Fleet
	cfg       ServiceConfig
	log       *slog.Logger
	limits    *limiter

	mu        sync.Mutex
	mailboxes map[int64]helpdesk.Mailbox // the enabled ones, as last read
	watchers  map[int64]*watcher
	orphans   map[int64]bool // adopted until the membership changes
	owned     int
	watched   int

	// The scheduler's own (loop goroutine).
	version    int64   // of the mailboxes, as last read
	candidates []int64 // seen unheld once, adopted when still unheld after orphanGrace
	ended      chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewService returns a stopped service. The inspector (read-only) tells
// when a lease held elsewhere expires, so a dead holder's mailbox is taken
// over right after its TTL.
func NewService(f *Fetcher, locker locks.Locker, inspector leaseview.Inspector, cfg ServiceConfig) *Service {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 32
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 256 << 20
	}
	if cfg.MaxMailboxes <= 0 {
		cfg.MaxMailboxes = 10_000
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = f.log
	}
	return &Service{
		f: f, store: f.store, locker: locker, inspector: inspector, fleet: cfg.Fleet, cfg: cfg, log: cfg.Logger,
		limits:   newLimiter(cfg.Concurrency, cfg.MaxBytes, f.cfg.Metrics),
		watchers: map[int64]*watcher{},
		orphans:  map[int64]bool{},
		ended:    make(chan struct{}, 1),
	}
}

// Start joins the fleet, starts watching this instance's share and runs
// the scheduler until Stop.
func (s *Service) Start(ctx context.Context) error {
	if s.fleet != nil {
		if err := s.fleet.Start(ctx); err != nil {
			return fmt.Errorf("join the fetch fleet: %w", err)
		}
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.checkChanges(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.loop(ctx)
	}()
	return nil
}

// Stop ends the service: it leaves the fleet at once, and every watcher,
// in parallel, commits its current message and releases its lease (within
// stopGrace), so that the others take over at once. Then Stop returns.
func (s *Service) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	if s.fleet != nil {
		s.fleet.Stop()
	}
	s.wg.Wait()
}

// Owned is how many leases the service holds.
func (s *Service) Owned() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owned
}

// Watched is how many mailboxes it holds with an open session after a
// first run: in IDLE or waiting to poll.
func (s *Service) Watched() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watched
}

func (s *Service) loop(ctx context.Context) {
	tick := time.NewTicker(changeTick)
	defer tick.Stop()
	full := time.NewTicker(fullRead)
	defer full.Stop()
	scan := time.NewTicker(s.cfg.LockTTL)
	defer scan.Stop()
	var grace <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.checkChanges(ctx)
		case <-full.C:
			s.readMailboxes(ctx)
		case <-s.membershipChanged():
			s.clearOrphans()
			s.reconcile(ctx)
		case <-scan.C:
			if s.findOrphans(ctx) {
				grace = time.After(orphanGrace)
			}
		case <-grace:
			grace = nil
			s.adoptOrphans(ctx)
		case <-s.ended:
			s.reconcile(ctx)
		}
	}
}

// checkChanges reads what changed since the last tick in one query: when
// the mailboxes' version moved, it reads them again; open fetch requests
// wake the watchers of the mailboxes they are for.
func (s *Service) checkChanges(ctx context.Context) {
	version, requested, err := s.store.FetchChanges(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("fetch service: reading changes failed", "err", err)
		}
		return
	}
	if version != s.version || s.mailboxes == nil {
		if s.readMailboxes(ctx) {
			s.version = version
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range requested {
		if w := s.watchers[id]; w != nil {
			w.wakeUp()
		}
	}
}

// readMailboxes reads every mailbox and brings the watchers in line.
func (s *Service) readMailboxes(ctx context.Context) bool {
	all, err := s.store.Mailboxes(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("fetch service: reading mailboxes failed", "err", err)
		}
		return false
	}
	enabled := make(map[int64]helpdesk.Mailbox, len(all))
	for _, m := range all {
		if m.Enabled {
			enabled[m.ID] = m
		}
	}
	s.mu.Lock()
	s.mailboxes = enabled
	s.mu.Unlock()
	s.reconcile(ctx)
	return true
}

// mailbox is an enabled mailbox as last read.
func (s *Service) mailbox(id int64) (helpdesk.Mailbox, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mailboxes[id]
	return m, ok
}

// pollInterval is a mailbox's poll interval as last read.
func (s *Service) pollInterval(id int64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.mailboxes[id]; ok {
		return time.Duration(m.PollIntervalS) * time.Second
	}
	return time.Minute
}

func (s *Service) countOwned(on bool) {
	delta := 1
	if !on {
		delta = -1
	}
	s.mu.Lock()
	s.owned += delta
	owned := s.owned
	s.mu.Unlock()
	s.f.cfg.Metrics.addOwned(delta)
	if s.fleet != nil {
		s.fleet.SetOwned(owned)
	}
}

func (s *Service) countWatched(on bool) {
	delta := 1
	if !on {
		delta = -1
	}
	s.mu.Lock()
	s.watched += delta
	s.mu.Unlock()
	s.f.cfg.Metrics.addWatched(delta)
}

func (s *Service) afterRun(ctx context.Context, mailboxID int64, err error) {
	if s.cfg.AfterRun != nil {
		s.cfg.AfterRun(ctx, mailboxID, err)
	}
}

// backoff grows the wait after consecutive failures, up to an hour.
func backoff(interval time.Duration, failures int) time.Duration {
	d := interval
	for i := 1; i < failures && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour) + jitter(interval/10)
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d)))
}
