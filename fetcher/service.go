package fetcher

import (
	"context"
	"errors"
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
	// Tick is how often the service looks for due mailboxes and fetch
	// requests; default 500ms, so "fetch now" starts within a second.
	Tick time.Duration
	// MaxMailboxes caps the mailboxes this instance works on at once, so
	// that several instances share them; default 8.
	MaxMailboxes int
	// HoldMax is how long an instance keeps a mailbox's lease while idling
	// before it lets go and anyone may take it; default 10 minutes.
	HoldMax time.Duration
	// MaxFirstDelay bounds the random delay before a mailbox's first run,
	// which spreads instances and mailboxes out; default a quarter of the
	// mailbox's poll interval.
	MaxFirstDelay time.Duration
	// Progress, if set, is told how far every run has got (see Job).
	Progress func(mailboxID int64, folder string, done, total int)
	// AfterRun, if set, is called after every run (fetch alerts).
	AfterRun func(ctx context.Context, mailboxID int64, runErr error)
	Logger   *slog.Logger
}

// Service fetches every enabled mailbox on its interval, IDLEs where the
// server supports it while holding the lease, and runs "fetch now"
// requests. Any number of instances may run on any number of machines: the
// lease makes one of them fetch a mailbox at a time.
type Service struct {
	f         *Fetcher
	store     *store.Store
	locker    locks.Locker
	inspector leaseview.Inspector
	cfg       ServiceConfig
	log       *slog.Logger

	mu    sync.Mutex
	slots map[int64]*slot

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// slot is this instance's schedule for one mailbox.
type slot struct {
	running bool
	due     time.Time
	wake    chan struct{} // wakes the mailbox's IDLE for a fetch request
}

// NewService returns a stopped service. The inspector (read-only) tells
// when a lease held elsewhere expires, so a dead holder's mailbox is taken
// over right after its TTL.
func NewService(f *Fetcher, locker locks.Locker, inspector leaseview.Inspector, cfg ServiceConfig) *Service {
	if cfg.Tick <= 0 {
		cfg.Tick = 500 * time.Millisecond
	}
	if cfg.MaxMailboxes <= 0 {
		cfg.MaxMailboxes = 8
	}
	if cfg.HoldMax <= 0 {
		cfg.HoldMax = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = f.log
	}
	return &Service{f: f, store: f.store, locker: locker, inspector: inspector, cfg: cfg, log: cfg.Logger, slots: map[int64]*slot{}}
}

// Start runs the service until Stop or ctx ends.
func (s *Service) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.loop(ctx)
	}()
	return nil
}

// Stop ends the service: running fetches commit their current message and
// release their leases (within stopGrace), then Stop returns.
func (s *Service) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
}

func (s *Service) loop(ctx context.Context) {
	ticker := time.NewTicker(s.cfg.Tick)
	defer ticker.Stop()
	for {
		if err := s.schedule(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("fetch service: scheduling failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// schedule starts work on every mailbox that is due or requested.
func (s *Service) schedule(ctx context.Context) error {
	mailboxes, err := s.store.Mailboxes(ctx)
	if err != nil {
		return err
	}
	requested, err := s.store.RequestedMailboxes(ctx)
	if err != nil {
		return err
	}
	isRequested := map[int64]bool{}
	for _, id := range requested {
		isRequested[id] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	running := 0
	for _, sl := range s.slots {
		if sl.running {
			running++
		}
	}
	now := time.Now()
	for _, m := range mailboxes {
		sl := s.slots[m.ID]
		if sl == nil {
			sl = &slot{due: now.Add(jitter(s.firstDelay(m))), wake: make(chan struct{}, 1)}
			s.slots[m.ID] = sl
		}
		switch {
		case !m.Enabled:
			continue
		case sl.running:
			if isRequested[m.ID] {
				select {
				case sl.wake <- struct{}{}:
				default:
				}
			}
		case running < s.cfg.MaxMailboxes && (isRequested[m.ID] || !now.Before(sl.due)):
			trigger := "schedule"
			if isRequested[m.ID] {
				trigger = "manual"
			}
			sl.running = true
			running++
			s.wg.Add(1)
			go func(m helpdesk.Mailbox) {
				defer s.wg.Done()
				next := s.work(ctx, m, trigger, sl.wake)
				s.mu.Lock()
				sl.running, sl.due = false, next
				s.mu.Unlock()
			}(m)
		}
	}
	return nil
}

// firstDelay bounds the wait before a mailbox's first run, so that
// instances and mailboxes spread out over the interval.
func (s *Service) firstDelay(m helpdesk.Mailbox) time.Duration {
	if s.cfg.MaxFirstDelay > 0 {
		return s.cfg.MaxFirstDelay
	}
	return time.Duration(m.PollIntervalS) * time.Second / 4
}

// work fetches one mailbox under its lease and returns when it is next due.
func (s *Service) work(ctx context.Context, m helpdesk.Mailbox, trigger string, wake <-chan struct{}) time.Time {
	interval := time.Duration(m.PollIntervalS) * time.Second
	_, err := s.f.withLease(ctx, s.locker, m.ID, func(leaseCtx context.Context, fence int64) (Summary, error) {
		return Summary{}, s.serveMailbox(ctx, leaseCtx, m.ID, fence, trigger, wake)
	})
	switch {
	case errors.Is(err, locks.ErrHeld):
		return s.whenLeaseFrees(ctx, m.ID, interval)
	case (errors.Is(err, locks.ErrLost) || errors.Is(err, helpdesk.ErrFenced)) && ctx.Err() == nil:
		// Not a failure of the mailbox: the lease went (Redis restarted,
		// say) or a newer holder fenced us off. Take it again as soon as
		// it is free rather than after the poll interval, or new mail
		// would wait that long even on an IDLE-capable server.
		s.log.Warn("fetch stopped: lease lost", "mailbox", m.ID, "err", err)
		return s.whenLeaseFrees(ctx, m.ID, interval)
	case err != nil && ctx.Err() == nil:
		s.log.Warn("fetch failed", "mailbox", m.ID, "err", err)
		failures, ferr := s.store.MailboxFailures(ctx, m.ID)
		if ferr != nil {
			failures = 1
		}
		return time.Now().Add(backoff(interval, failures))
	}
	return time.Now().Add(interval + jitter(interval/10))
}

// whenLeaseFrees is when to try a mailbox another process holds: right
// after its lease would expire, in case the holder died.
func (s *Service) whenLeaseFrees(ctx context.Context, mailboxID int64, interval time.Duration) time.Time {
	wait := interval
	if s.inspector != nil {
		if st, err := s.inspector.Inspect(ctx, mailboxID); err == nil && st.Held {
			wait = min(interval, st.TTLLeft+jitter(300*time.Millisecond))
		} else if err == nil {
			wait = jitter(300 * time.Millisecond)
		}
	}
	return time.Now().Add(wait)
}

// serveMailbox runs fetches over one session while the lease is held: once,
// then, where the server supports IDLE, again whenever new mail arrives, a
// fetch is requested or the interval passes, until HoldMax.
func (s *Service) serveMailbox(ctx, leaseCtx context.Context, mailboxID, fence int64, trigger string, wake <-chan struct{}) error {
	m, err := s.store.Mailbox(leaseCtx, mailboxID)
	if err != nil {
		return err
	}
	password, err := s.store.IMAPPassword(m)
	if err != nil {
		return err
	}
	job := Job{MailboxID: mailboxID, Fence: fence, Trigger: trigger}
	if s.cfg.Progress != nil {
		job.Progress = func(folder string, done, total int) { s.cfg.Progress(mailboxID, folder, done, total) }
	}
	sess, err := Dial(leaseCtx, m, password, s.f.cfg.TLSConfig)
	if err != nil {
		s.f.newRun(ctx.Done(), nil, m, job).recordFailure(leaseCtx, err)
		s.afterRun(leaseCtx, mailboxID, err)
		return err
	}
	defer sess.Close()
	held := time.Now()
	for {
		started := time.Now()
		_, err := s.f.RunSession(leaseCtx, ctx.Done(), sess, m, job)
		if cerr := s.store.CompleteFetchRequests(leaseCtx, mailboxID, started); cerr != nil && err == nil {
			err = cerr
		}
		s.afterRun(leaseCtx, mailboxID, err)
		if err != nil || ctx.Err() != nil || !sess.CanIdle() || time.Since(held) > s.cfg.HoldMax {
			return err
		}
		if m, err = s.store.Mailbox(leaseCtx, mailboxID); err != nil || !m.Enabled {
			return err
		}
		// IDLE watches the first folder. If the run ended in another one,
		// select it again, and run at once if mail came meanwhile: the
		// SELECT reports it in its answer, not as the EXISTS that ends IDLE.
		if sess.selected != m.Folders[0] {
			folder, err := sess.Select(m.Folders[0])
			if err != nil {
				return err
			}
			arrived, err := arrivedSince(leaseCtx, s.store.FetchHandle(mailboxID, fence), folder)
			if err != nil {
				return err
			}
			if arrived {
				job.Trigger = IdleNewMail
				continue
			}
		}
		// Re-issue IDLE well within the 29 minutes servers allow.
		wait := min(time.Duration(m.PollIntervalS)*time.Second, 25*time.Minute)
		why, err := sess.Idle(ctx, wait, wake)
		if err != nil || why == IdleStopped {
			return err
		}
		job.Trigger = why
	}
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
