// Package notifier sends the outbox: replies, notifications, auto-acks,
// alerts and test mails, each exactly once when the SMTP server's answer
// reaches us.
//
// Any number of notifier services can run against one database. Each
// worker claims a few due rows with a lease (Queue.ClaimOutbox),
// sends them over SMTP with the Message-ID stored in the row, and records
// the outcome: sent; rescheduled with exponential backoff and jitter after a
// 4xx answer, a dropped connection or a timeout; failed after a 5xx answer
// or too many attempts (admins see it and can retry it).
//
// The one window SMTP leaves open: when the server accepted the DATA but
// its 250 never reached us (the connection dropped, or this process died
// before recording the success), the lease runs out and the mail is sent
// again. It carries the same Message-ID and Date, so receivers see a
// duplicate they can recognise. Delivery is therefore at-least-once with a
// stable Message-ID, and exactly-once whenever the 250 arrives.
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
	Batch    int           // rows a worker claims at once; default 20
	LeaseFor time.Duration // how long a claim lasts; default 2m
	Logger   *slog.Logger
	Metrics  *Metrics // optional

	Workers     int           // concurrent SMTP sessions; default 2
	PollEvery   time.Duration // how often idle workers look for due mail; default 2s
	MaxAttempts int           // attempts before a mail is failed; default 10
	RetryBase   time.Duration // first retry delay, doubled each attempt; default 30s
	RetryMax    time.Duration // longest retry delay; default 1h
	TLSConfig   *tls.Config   // nil: system roots, server name from the URL
	HeloName    string        // EHLO name; default the host name
}

// Service is a running notifier.
type Service struct {
	store Queue
	cfg   Config
	log   *slog.Logger

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
		cfg.Batch = 20
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
	return &Service{store: store, cfg: cfg, log: cfg.Logger.With("service", "notifier", "instance", cfg.Instance)}
}

// Start checks the configuration and starts the workers; they run until
// ctx ends or Stop is called.
func (s *Service) Start(ctx context.Context) error {
	if s.cfg.SMTPURL != "" {
		if _, err := ParseSMTPURL(s.cfg.SMTPURL); err != nil {
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
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() { s.work(ctx) })
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

// work drains the outbox, then waits for the next tick.
func (s *Service) work(ctx context.Context) {
	snd := &sender{helo: s.cfg.HeloName, tlsConfig: s.cfg.TLSConfig, timeout: min(s.cfg.LeaseFor/3, time.Minute)}
	defer snd.close()
	ticker := time.NewTicker(s.cfg.PollEvery)
	defer ticker.Stop()
	for {
		s.drain(ctx, snd)
		snd.quit()
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// drain claims and sends batches until none is full.
func (s *Service) drain(ctx context.Context, snd *sender) {
	urls := map[int64]string{} // SMTP URL per mailbox, for this drain
	for ctx.Err() == nil {
		batch, err := s.store.ClaimOutbox(ctx, helpdesk.NewLeaseOwner(s.cfg.Instance), s.cfg.Batch, s.cfg.LeaseFor)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("claim outbox", "err", err)
			}
			return
		}
		for _, m := range batch {
			s.deliver(ctx, snd, m, urls)
		}
		if len(batch) < s.cfg.Batch {
			return
		}
	}
}

var errNoSMTP = errors.New("no SMTP server configured (HELPDESK_SMTP_URL or the mailbox's SMTP URL): mail waits in the outbox")

// deliver sends one claimed row and records the outcome.
func (s *Service) deliver(ctx context.Context, snd *sender, m helpdesk.OutboxMessage, urls map[int64]string) {
	log := s.log.With("outbox_id", m.ID, "kind", m.Kind, "message_id", m.MessageID, "attempt", m.Attempts)
	keep := context.WithoutCancel(ctx) // outcomes are recorded even while stopping
	// Stopping, or the batch took so long that the lease may run out
	// mid-send: give the row back untouched.
	if ctx.Err() != nil || time.Until(*m.LeaseUntil) < s.cfg.LeaseFor/4 {
		s.record(keep, log, "release", func(c context.Context) error { return s.store.ReleaseOutbox(c, m, time.Now(), m.LastError) })
		return
	}
	smtpURL, err := s.smtpURLFor(ctx, m, urls)
	if err == nil && smtpURL == "" {
		err = errNoSMTP
	}
	if err != nil {
		log.Warn("outbound mail waits", "err", err)
		s.record(keep, log, "release", func(c context.Context) error {
			return s.store.ReleaseOutbox(c, m, time.Now().Add(s.cfg.RetryBase), err.Error())
		})
		return
	}
	data, err := Compose(m)
	if err != nil {
		log.Error("outbound mail failed", "err", err)
		s.cfg.Metrics.failed()
		s.record(keep, log, "fail", func(c context.Context) error { return s.store.FailOutbox(c, m, err.Error()) })
		return
	}
	envelopeFrom := m.From
	if m.Kind == "auto-ack" {
		envelopeFrom = "" // RFC 3834: a bounce of an automatic reply goes nowhere
	}
	// Give up well before the lease ends, so no other notifier sends the
	// row while this one is still talking to the server.
	sendCtx, cancel := context.WithDeadline(ctx, m.LeaseUntil.Add(-s.cfg.LeaseFor/10))
	start := time.Now()
	err = snd.send(sendCtx, smtpURL, envelopeFrom, m.To, data)
	cancel()
	s.cfg.Metrics.observe(time.Since(start))
	switch {
	case err == nil:
		s.cfg.Metrics.sent(m.Kind)
		log.Debug("outbound mail sent")
		s.record(keep, log, "mark sent", func(c context.Context) error { return s.store.MarkOutboxSent(c, m.ID) })
	case ctx.Err() != nil:
		s.record(keep, log, "release", func(c context.Context) error { return s.store.ReleaseOutbox(c, m, time.Now(), err.Error()) })
	case IsPermanent(err) || m.Attempts >= s.cfg.MaxAttempts:
		s.cfg.Metrics.failed()
		log.Error("outbound mail failed", "err", err, "permanent", IsPermanent(err))
		s.record(keep, log, "fail", func(c context.Context) error { return s.store.FailOutbox(c, m, err.Error()) })
	default:
		s.cfg.Metrics.retried()
		next := time.Now().Add(backoff(m.Attempts, s.cfg.RetryBase, s.cfg.RetryMax))
		log.Info("outbound mail will be retried", "err", err, "next_attempt_at", next)
		s.record(keep, log, "reschedule", func(c context.Context) error { return s.store.RescheduleOutbox(c, m, next, err.Error()) })
	}
}

// record writes an outcome, trying a few times: a lost "sent" costs a
// duplicate (same Message-ID) once the lease runs out, a lost "failed" or
// "reschedule" just an early retry.
func (s *Service) record(ctx context.Context, log *slog.Logger, what string, write func(context.Context) error) {
	for attempt := 1; ; attempt++ {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := write(c)
		cancel()
		if err == nil {
			return
		}
		if attempt == 3 {
			log.Error("outbox: cannot record outcome; the row is sent again when its lease runs out", "outcome", what, "err", err)
			return
		}
		t := time.NewTimer(time.Duration(attempt) * time.Second)
		<-t.C
	}
}

// smtpURLFor is the mailbox's own SMTP URL, else the global one.
func (s *Service) smtpURLFor(ctx context.Context, m helpdesk.OutboxMessage, urls map[int64]string) (string, error) {
	if m.MailboxID == 0 {
		return s.cfg.SMTPURL, nil
	}
	if u, ok := urls[m.MailboxID]; ok {
		return u, nil
	}
	u := s.cfg.SMTPURL
	mb, err := s.store.Mailbox(ctx, m.MailboxID)
	switch {
	case errors.Is(err, helpdesk.ErrNotFound):
	case err != nil:
		return "", err
	default:
		own, err := s.store.SMTPURL(mb)
		if err != nil {
			return "", fmt.Errorf("SMTP URL of mailbox %d: %w", m.MailboxID, err)
		}
		if own != "" {
			u = own
		}
	}
	urls[m.MailboxID] = u
	return u, nil
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
