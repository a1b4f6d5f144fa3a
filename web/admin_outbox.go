package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// outboxStatus is the outbox on the status page and in /api/v1/outbox:
// the counts, and the newest failed mails for an admin to retry.
type outboxStatus struct {
	helpdesk.OutboxStats
	FailedMails []failedMail `json:"failed_mails"`
}

// failedMail is a failed outbox row without its body and headers.
type failedMail struct {
	ID        int64      `json:"id"`
	Kind      string     `json:"kind"`
	To        []string   `json:"to"`
	Subject   string     `json:"subject"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error"`
	CreatedAt time.Time  `json:"created_at"` // queued
	FailedAt  *time.Time `json:"failed_at"`  // null for mails failed before the outbox kept it
}

// readOutbox reads the outbox figures; it only reads.
func (s *Server) readOutbox(ctx context.Context) (outboxStatus, error) {
	stats, err := s.cfg.Store.OutboxStats(ctx)
	if err != nil {
		return outboxStatus{}, err
	}
	failed, err := s.cfg.Store.FailedOutbox(ctx)
	if err != nil {
		return outboxStatus{}, err
	}
	// Errors stored before the SMTP URL check may quote a URL's password.
	stats.LastError = helpdesk.Redact(stats.LastError)
	v := outboxStatus{OutboxStats: stats, FailedMails: make([]failedMail, len(failed))}
	for i, m := range failed {
		v.FailedMails[i] = failedMail{ID: m.ID, Kind: m.Kind, To: m.To, Subject: m.Subject,
			Attempts: m.Attempts, LastError: helpdesk.Redact(m.LastError), CreatedAt: m.CreatedAt.UTC()}
		if m.FailedAt != nil {
			at := m.FailedAt.UTC()
			v.FailedMails[i].FailedAt = &at
		}
	}
	return v, nil
}

// apiOutbox is the outbox as the status page shows it, read afresh.
func (s *Server) apiOutbox(c echo.Context) error {
	v, err := s.readOutbox(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// adminOutboxRetry is an admin's manual retry of a failed mail: the same
// row, pending again, sent by the notifier on its next poll.
func (s *Server) adminOutboxRetry(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.RetryOutbox(c.Request().Context(), id); err != nil {
		if errors.Is(err, helpdesk.ErrNotFound) {
			return echo.NewHTTPError(http.StatusNotFound, "no failed mail with this id")
		}
		return err
	}
	s.log.Info("web: outbox retry requested", "outbox_id", id, "user_id", currentUser(c).ID)
	return c.Redirect(http.StatusSeeOther, "/admin/status?notice=outbox-retried")
}
