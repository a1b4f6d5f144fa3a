package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// mailboxPage is the page of one mailbox: status, actions, quarantine.
type mailboxPage struct {
	Mailbox    *helpdesk.Mailbox
	Status     mailboxStatus
	DBFence    int64
	Quarantine []helpdesk.QuarantinedMessage
	Test       *testResult
	Refresh    int
	Connect    []connectOption // "Connect with ..." buttons
}

type testResult struct {
	OK      bool
	Message string // the server's answer on failure
}

func (s *Server) adminMailboxes(c echo.Context) error {
	mbs, err := s.cfg.Store.Mailboxes(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "admin_mailboxes.html", "Mailboxes", mbs)
}

func (s *Server) adminMailboxNew(c echo.Context) error {
	f := mailboxForm{Enabled: true, V: map[string]string{
		"imap_port": "993", "imap_security": "tls", "folders": "INBOX", "after_fetch": "leave",
		"poll_interval_s": "60", "max_message_bytes": strconv.Itoa(25 << 20), "imap_auth": helpdesk.AuthPassword,
		"oauth_provider": "google",
	}}
	return s.render(c, http.StatusOK, "admin_mailbox_form.html", "New mailbox", f)
}

func (s *Server) adminMailboxCreate(c echo.Context) error {
	in, f := parseMailboxForm(c, true, s.cfg.OAuthClients)
	if len(f.Fields) > 0 {
		return s.render(c, http.StatusUnprocessableEntity, "admin_mailbox_form.html", "New mailbox", f)
	}
	id, err := s.cfg.Store.CreateMailbox(c.Request().Context(), in)
	if fields := errorFields(err); fields != nil {
		f.Fields = fields
		return s.render(c, statusOf(err), "admin_mailbox_form.html", "New mailbox", f)
	}
	if err != nil {
		return err
	}
	s.log.Info("web: mailbox created", "mailbox_id", id, "user_id", currentUser(c).ID)
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/mailboxes/%d?notice=created", id))
}

func (s *Server) adminMailboxEdit(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	m, err := s.cfg.Store.Mailbox(c.Request().Context(), id)
	if err != nil {
		return err
	}
	f := mailboxForm{ID: m.ID, Enabled: m.Enabled, AutoAck: m.AutoAck, AllowInsecure: m.IMAPAllowInsecure, HasPassword: m.IMAPPasswordEnc != "",
		HasSMTPURL: m.SMTPURLEnc != "", V: map[string]string{
			"name": m.Name, "email": m.Email, "imap_host": m.IMAPHost, "imap_port": strconv.Itoa(m.IMAPPort),
			"imap_security": m.IMAPSecurity, "imap_user": m.IMAPUser, "folders": strings.Join(m.Folders, "\n"),
			"after_fetch": m.AfterFetch, "move_to_folder": m.MoveToFolder,
			"poll_interval_s": strconv.Itoa(m.PollIntervalS), "max_message_bytes": strconv.FormatInt(m.MaxMessageBytes, 10),
			"signature": m.Signature,
		}}
	if m.ImportSince != nil {
		f.V["import_since"] = m.ImportSince.UTC().Format(time.DateOnly)
	}
	return s.render(c, http.StatusOK, "admin_mailbox_form.html", "Edit "+m.Name, f)
}

func (s *Server) adminMailboxUpdate(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	m, err := s.cfg.Store.Mailbox(ctx, id)
	if err != nil {
		return err
	}
	in, f := parseMailboxForm(c, false, nil)
	f.ID, f.HasPassword, f.HasSMTPURL = id, m.IMAPPasswordEnc != "", m.SMTPURLEnc != ""
	if len(f.Fields) > 0 {
		return s.render(c, http.StatusUnprocessableEntity, "admin_mailbox_form.html", "Edit "+m.Name, f)
	}
	err = s.cfg.Store.UpdateMailbox(ctx, id, in)
	if fields := errorFields(err); fields != nil {
		f.Fields = fields
		return s.render(c, statusOf(err), "admin_mailbox_form.html", "Edit "+m.Name, f)
	}
	if err != nil {
		return err
	}
	s.log.Info("web: mailbox saved", "mailbox_id", id, "user_id", currentUser(c).ID)
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/mailboxes/%d?notice=saved", id))
}

func (s *Server) adminMailboxEnabled(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	enabled, ok := parseBool(c.FormValue("enabled"))
	if !ok || c.FormValue("enabled") == "" {
		return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"enabled": "must be true or false"}}
	}
	if err := s.cfg.Store.SetMailboxEnabled(c.Request().Context(), id, enabled); err != nil {
		return err
	}
	notice := "disabled"
	if enabled {
		notice = "enabled"
	}
	s.log.Info("web: mailbox "+notice, "mailbox_id", id, "user_id", currentUser(c).ID)
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/mailboxes/%d?notice=%s", id, notice))
}

// adminMailbox is the page of one mailbox.
func (s *Server) adminMailbox(c echo.Context) error {
	return s.renderMailbox(c, http.StatusOK, nil)
}

func (s *Server) renderMailbox(c echo.Context, status int, test *testResult) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	m, st, err := s.mailboxStatusOf(ctx, id, 20)
	if err != nil {
		return err
	}
	fence, err := s.cfg.Store.Fence(ctx, id)
	if err != nil {
		return err
	}
	q, err := s.cfg.Store.Quarantined(ctx, id)
	if err != nil {
		return err
	}
	p := mailboxPage{Mailbox: m, Status: st, DBFence: fence, Quarantine: q, Test: test, Refresh: 5,
		Connect: s.connectOptions(ctx, m)}
	if test != nil {
		p.Refresh = 0 // keep the answer on screen
	}
	return s.render(c, status, "admin_mailbox.html", m.Name, p)
}

// adminMailboxFetch is "Fetch now": it records a request that the fetch
// service runs on its scheduled code path, under its lease (202).
func (s *Server) adminMailboxFetch(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.RequestFetch(c.Request().Context(), id, currentUser(c).Email); err != nil {
		return err
	}
	s.log.Info("web: fetch requested", "mailbox_id", id, "user_id", currentUser(c).ID, "via", "page")
	c.Set(ctxNotice, "fetch-requested")
	return s.renderMailbox(c, http.StatusAccepted, nil)
}

// adminMailboxTest is "Test connection": the fetcher's own dial, login
// and select, showing the server's exact answer when it fails.
func (s *Server) adminMailboxTest(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	if s.cfg.TestConnection == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "connection tests are not available in this process")
	}
	m, err := s.cfg.Store.Mailbox(c.Request().Context(), id)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 30*time.Second)
	defer cancel()
	res := &testResult{OK: true}
	if err := s.cfg.TestConnection(ctx, m); err != nil {
		res = &testResult{Message: err.Error()}
	}
	s.log.Info("web: connection tested", "mailbox_id", id, "ok", res.OK, "err", res.Message)
	return s.renderMailbox(c, http.StatusOK, res)
}
