// Package notifier sends the outbox: replies, notifications, auto-acks,
// alerts and test mails, each exactly once when the SMTP server's answer
// reaches us.
//
// Any number of notifier services can run against one database. Each
// service claims a few due rows at a time with a lease (Queue.ClaimOutbox)
// and renews the lease while its workers send them (claim.go), each worker
// over its own SMTP session, with the Message-ID stored in the row. It
// records the outcome:
// sent; rescheduled with exponential backoff and jitter after a 4xx
// answer, a dropped connection or a timeout; failed after a 5xx answer or
// too many attempts (admins see it and can retry it).
//
// A lease runs out only when its notifier stops renewing it: the process
// died, or lost the database for most of a lease (then it stops sending
// before the lease ends). A slow server or a loaded CPU does not make a
// second notifier send the mail. The one window left is SMTP's own: when
// the server accepted the DATA but its 250 never reached us (the
// connection dropped, or this process died before recording the success),
// the mail is sent again. It carries the same Message-ID and Date, so
// receivers see a duplicate they can recognise.
package notifier

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Config configures a notifier service; zero values get the defaults noted.
type Config struct {
	// SMTPURL is HELPDESK_SMTP_URL, used for mail of mailboxes without
	// their own SMTP URL. Empty: such mail waits in the outbox.
	SMTPURL  string
	Instance string        // names this service in leases; default host/pid
	Batch    int           // rows claimed at once, shared by the workers; default 200
	LeaseFor time.Duration // how long a claim lasts unrenewed; renewed every LeaseFor/3; default 2m
	Logger   *slog.Logger
	Metrics  *Metrics // optional

	Workers     int           // concurrent SMTP sessions; default 2
	PollEvery   time.Duration // how often idle workers look for due mail; default 2s
	MaxAttempts int           // attempts before a mail is failed; default 10
	RetryBase   time.Duration // first retry delay, doubled each attempt; default 30s
	RetryMax    time.Duration // longest retry delay; default 1h
	TLSConfig   *tls.Config   // nil: system roots, server name from the URL
	HeloName    string        // EHLO name; default the host name
	SMTPTimeout time.Duration // per SMTP command (not the DATA, see dataTimeout); default 1m
	// Tokens hands out the access tokens with which mail of OAuth2
	// mailboxes is sent (SMTP AUTH XOAUTH2). nil: such mail waits.
	Tokens TokenSource
}

// TokenSource hands out OAuth2 access tokens of mailboxes; *oauth.Tokens
// is one.
type TokenSource interface {
	AccessToken(ctx context.Context, mailboxID int64) (string, error)
	Refresh(ctx context.Context, mailboxID int64, rejected string) (string, error)
}

// Service is a running notifier.
type Service struct {
	store   Queue
	cfg     Config
	log     *slog.Logger
	waiting conditions // why mail waits, logged once each until a mail is sent

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a notifier service; Start runs it.
func New(store Queue, cfg Config) *Service {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	if cfg.Instance == "" {
		cfg.Instance = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	if cfg.HeloName == "" {
		cfg.HeloName = host
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 200
	}
	if cfg.LeaseFor <= 0 {
		cfg.LeaseFor = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.PollEvery <= 0 {
		cfg.PollEvery = 2 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 30 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Hour
	}
	if cfg.SMTPTimeout <= 0 {
		cfg.SMTPTimeout = time.Minute
	}
	return &Service{store: store, cfg: cfg, log: cfg.Logger.With("service", "notifier", "instance", cfg.Instance)}
}

// Start checks the configuration and starts the workers; they run until
// ctx ends or Stop is called.
func (s *Service) Start(ctx context.Context) error {
	if s.cfg.SMTPURL != "" {
		if _, err := helpdesk.ParseSMTPURL(s.cfg.SMTPURL); err != nil {
			return fmt.Errorf("HELPDESK_SMTP_URL: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return errors.New("notifier already started")
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	jobs := make(chan job)
	var wg sync.WaitGroup
	wg.Go(func() { s.dispatch(ctx, jobs) })
	for range s.cfg.Workers {
		wg.Go(func() { s.work(ctx, jobs) })
	}
	go func() {
		wg.Wait()
		close(s.done)
	}()
	s.log.Info("notifier started", "workers", s.cfg.Workers, "smtp_configured", s.cfg.SMTPURL != "")
	return nil
}

// Stop ends the workers and waits for them. A send in progress is cut off;
// its row goes back to the outbox and is sent again, with the same
// Message-ID.
func (s *Service) Stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// job is one claimed row handed to a worker.
type job struct {
	c *claim
	m helpdesk.OutboxMessage
}

// dispatch drains the outbox into the workers, then waits for the next
// tick. One claim at a time (and the next claimed ahead) serves every
// worker: concurrent claims of the same due rows, and the writes of
// several claims' outcomes at once, cost the database more than the
// sending itself.
func (s *Service) dispatch(ctx context.Context, jobs chan<- job) {
	ticker := time.NewTicker(s.cfg.PollEvery)
	defer ticker.Stop()
	for {
		s.drain(ctx, jobs)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// work sends the rows handed to it over its own SMTP session, which it
// ends once no row came for PollEvery.
func (s *Service) work(ctx context.Context, jobs <-chan job) {
	snd := &sender{helo: s.cfg.HeloName, tlsConfig: s.cfg.TLSConfig, timeout: s.cfg.SMTPTimeout, tokens: s.cfg.Tokens}
	defer snd.close()
	urls := map[int64]route{} // SMTP server per mailbox, until the session ends
	idle := time.NewTimer(s.cfg.PollEvery)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-jobs:
			j.c.decide(s.deliver(j.c.ctx, snd, j.m, urls))
		case <-idle.C:
			snd.quit()
			clear(urls)
		}
		idle.Reset(s.cfg.PollEvery)
	}
}

// recording is how many claims may have outcomes still being recorded
// before the dispatcher waits for the oldest: the SMTP sessions do not
// idle while the database is slow, and what is held stays bounded.
const recording = 4

// drain claims batches and hands their rows to the workers until a batch
// is not full. The next batch is claimed while this one is sent, and the
// outcomes of those before are recorded meanwhile, so the SMTP sessions
// wait for neither.
func (s *Service) drain(ctx context.Context, jobs chan<- job) {
	var settling []*claim // claims whose outcomes may still be being recorded
	defer func() {
		for _, c := range settling {
			c.wait()
		}
	}()
	next := s.claimAhead(ctx)
	for {
		c := <-next
		if c == nil {
			return
		}
		full := len(c.rows) == s.cfg.Batch
		if full {
			next = s.claimAhead(ctx)
		}
		for _, m := range c.rows {
			select {
			case jobs <- job{c, m}:
			case <-ctx.Done(): // the workers are stopping
				c.decide(releasedUnsent(m))
			}
		}
		c.close()
		settling = append(settling, c)
		if len(settling) > recording {
			settling[0].wait()
			settling = settling[1:]
		}
		if !full {
			return
		}
	}
}

// claimAhead claims a batch in the background; nil when there is none (or
// the claim failed).
func (s *Service) claimAhead(ctx context.Context) <-chan *claim {
	ch := make(chan *claim, 1)
	go func() {
		owner := helpdesk.NewLeaseOwner(s.cfg.Instance)
		batch, err := s.store.ClaimOutbox(ctx, owner, s.cfg.Batch, s.cfg.LeaseFor)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				s.log.Error("claim outbox", "err", err)
			}
			ch <- nil
		case len(batch) == 0:
			ch <- nil
		default:
			ch <- s.hold(ctx, owner, batch)
		}
	}()
	return ch
}

// releasedUnsent gives a row back untouched: due again at once, its
// attempt not counted.
func releasedUnsent(m helpdesk.OutboxMessage) outcome {
	return outcome{m: m, kind: released, next: time.Now(), text: m.LastError}
}

var errNoSMTP = errors.New("no SMTP server configured (HELPDESK_SMTP_URL or the mailbox's SMTP URL): mail waits in the outbox")

// deliver sends one claimed row and says what became of it. ctx is the
// claim's: it ends when the service stops or the claim is lost, and then
// the row is given back untouched.
func (s *Service) deliver(ctx context.Context, snd *sender, m helpdesk.OutboxMessage, urls map[int64]route) outcome {
	if ctx.Err() != nil {
		return releasedUnsent(m)
	}
	r, err := s.routeFor(ctx, m, urls)
	if err == nil && r.URL == "" {
		err = errNoSMTP
	}
	if err != nil {
		if s.waiting.first(err.Error()) {
			s.mailLog(m).Warn("outbound mail waits (logged once until a mail is sent)", "err", err)
		}
		return outcome{m: m, kind: released, next: time.Now().Add(s.cfg.RetryBase), text: err.Error()}
	}
	if m.Attachments, err = s.attachments(ctx, m); err != nil {
		if errors.Is(err, errFilesGone) {
			s.mailLog(m).Error("outbound mail failed", "err", err)
			s.cfg.Metrics.failed()
			return outcome{m: m, kind: failed, text: err.Error()}
		}
		// The database, not the mail: it waits without using up attempts.
		return outcome{m: m, kind: released, next: time.Now().Add(s.cfg.RetryBase), text: err.Error()}
	}
	data, err := Compose(m)
	if err != nil {
		s.mailLog(m).Error("outbound mail failed", "err", err)
		s.cfg.Metrics.failed()
		return outcome{m: m, kind: failed, text: err.Error()}
	}
	envelopeFrom := m.From
	if m.Kind == "auto-ack" {
		envelopeFrom = "" // RFC 3834: a bounce of an automatic reply goes nowhere
	}
	start := time.Now()
	err = snd.send(ctx, r, envelopeFrom, m.Recipients(), data)
	s.cfg.Metrics.observe(time.Since(start))
	switch {
	case err == nil:
		s.cfg.Metrics.sent(m.Kind)
		s.waiting.clear()
		return outcome{m: m, kind: sent}
	case ctx.Err() != nil:
		return outcome{m: m, kind: released, next: time.Now(), text: err.Error()}
	case errors.Is(err, helpdesk.ErrNeedsReconnect):
		// Not the mail's fault: it waits, without using up attempts,
		// until an admin connects the mailbox again.
		if s.waiting.first(err.Error()) {
			s.mailLog(m).Warn("outbound mail waits (logged once until a mail is sent)", "err", err)
		}
		return outcome{m: m, kind: released, next: time.Now().Add(s.cfg.RetryBase), text: err.Error()}
	case IsPermanent(err) || m.Attempts >= s.cfg.MaxAttempts:
		s.cfg.Metrics.failed()
		s.mailLog(m).Error("outbound mail failed", "err", err, "permanent", IsPermanent(err))
		return outcome{m: m, kind: failed, text: err.Error()}
	default:
		s.cfg.Metrics.retried()
		next := time.Now().Add(backoff(m.Attempts, s.cfg.RetryBase, s.cfg.RetryMax))
		s.mailLog(m).Info("outbound mail will be retried", "err", err, "next_attempt_at", next)
		return outcome{m: m, kind: rescheduled, next: next, text: err.Error()}
	}
}

var errFilesGone = errors.New("attachments of this mail are gone (deleted with their conversation?): not sending it without them")

// attachments reads the files of a row that has any. A row whose files
// are not all there any more fails: sending it without them would be
// another mail than the one the agent sent.
func (s *Service) attachments(ctx context.Context, m helpdesk.OutboxMessage) ([]helpdesk.MailAttachment, error) {
	if m.AttachmentCount == 0 {
		return nil, nil
	}
	files, err := s.store.OutboxAttachments(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	if len(files) != m.AttachmentCount {
		return nil, fmt.Errorf("%w: %d of %d", errFilesGone, m.AttachmentCount-len(files), m.AttachmentCount)
	}
	return files, nil
}

// mailLog is the logger for what happens to one mail.
func (s *Service) mailLog(m helpdesk.OutboxMessage) *slog.Logger {
	return s.log.With("outbox_id", m.ID, "kind", m.Kind, "message_id", m.MessageID, "attempt", m.Attempts)
}

// conditions remembers which conditions were logged, so a condition that
// holds up every row on every retry is logged once, not once per row.
type conditions struct {
	mu   sync.Mutex
	seen map[string]bool
}

// first reports whether the condition is new, and remembers it.
func (c *conditions) first(condition string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[condition] {
		return false
	}
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	c.seen[condition] = true
	return true
}

// clear forgets every condition: the next occurrence is logged again.
func (c *conditions) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.seen)
}

// backoff is base doubled per attempt so far, capped at maxDelay, with
// jitter over its upper half so retries of many mails spread out.
func backoff(attempt int, base, maxDelay time.Duration) time.Duration {
	d := maxDelay
	if attempt >= 1 && attempt < 31 {
		if x := base << (attempt - 1); x > 0 && x < maxDelay {
			d = x
		}
	}
	return d/2 + rand.N(d/2+1)
}
