package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// mailboxForm is the create/edit form: the values as typed (for showing
// them again beside their errors) and the errors by field. Stored
// passwords are never put in it; HasPassword only says one is stored.
type mailboxForm struct {
	ID          int64 // 0 when creating
	V           map[string]string
	Enabled     bool
	AutoAck     bool
	HasPassword bool
	HasSMTPURL  bool
	Fields      map[string]string
}

// mailboxPage is the page of one mailbox: status, actions, quarantine.
type mailboxPage struct {
	Mailbox    *helpdesk.Mailbox
	Status     mailboxStatus
	DBFence    int64
	Quarantine []helpdesk.QuarantinedMessage
	Test       *testResult
	Refresh    int
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
		"poll_interval_s": "60", "max_message_bytes": strconv.Itoa(25 << 20),
	}}
	return s.render(c, http.StatusOK, "admin_mailbox_form.html", "New mailbox", f)
}

func (s *Server) adminMailboxCreate(c echo.Context) error {
	in, f := parseMailboxForm(c, true)
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
	f := mailboxForm{ID: m.ID, Enabled: m.Enabled, AutoAck: m.AutoAck, HasPassword: m.IMAPPasswordEnc != "",
		HasSMTPURL: m.SMTPURLEnc != "", V: map[string]string{
			"name": m.Name, "email": m.Email, "imap_host": m.IMAPHost, "imap_port": strconv.Itoa(m.IMAPPort),
			"imap_security": m.IMAPSecurity, "imap_user": m.IMAPUser, "folders": strings.Join(m.Folders, "\n"),
			"after_fetch": m.AfterFetch, "move_to_folder": m.MoveToFolder,
			"poll_interval_s": strconv.Itoa(m.PollIntervalS), "max_message_bytes": strconv.FormatInt(m.MaxMessageBytes, 10),
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
	in, f := parseMailboxForm(c, false)
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
	p := mailboxPage{Mailbox: m, Status: st, DBFence: fence, Quarantine: q, Test: test, Refresh: 5}
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
	password, err := s.cfg.Store.IMAPPassword(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 30*time.Second)
	defer cancel()
	res := &testResult{OK: true}
	if err := s.cfg.TestConnection(ctx, m, password); err != nil {
		res = &testResult{Message: err.Error()}
	}
	s.log.Info("web: connection tested", "mailbox_id", id, "ok", res.OK, "err", res.Message)
	return s.renderMailbox(c, http.StatusOK, res)
}

func (s *Server) adminQuarantineRetry(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	back := safeNext(c.FormValue("back"))
	if back == "/" {
		back = "/admin/status"
	}
	if err := s.cfg.Store.RetryQuarantined(c.Request().Context(), id); err != nil {
		if errors.Is(err, helpdesk.ErrNotFound) {
			return echo.NewHTTPError(http.StatusNotFound, "no held quarantined message with this id")
		}
		return err
	}
	s.log.Info("web: quarantine retry requested", "quarantine_id", id, "user_id", currentUser(c).ID)
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	return c.Redirect(http.StatusSeeOther, back+sep+"notice=retry-requested")
}

// Form parsing: types, sizes and markup are checked here, before the
// domain's Validate; both sets of errors are shown at once.

const maxFieldLen = 2000

// textFields of the mailbox form that are one line of plain text.
var mailboxTextFields = []string{"name", "email", "imap_host", "imap_user", "move_to_folder"}

func parseMailboxForm(c echo.Context, creating bool) (helpdesk.MailboxInput, mailboxForm) {
	f := mailboxForm{V: map[string]string{}, Fields: map[string]string{}}
	val := func(name string) string {
		v := c.FormValue(name)
		f.V[name] = v
		return v
	}
	var in helpdesk.MailboxInput
	text := func(name string) string {
		v := val(name)
		if msg := badText(v, false); msg != "" {
			f.Fields[name] = msg
			f.V[name] = ""
		}
		return v
	}
	in.Name = text("name")
	in.Email = text("email")
	in.IMAPHost = text("imap_host")
	in.IMAPUser = text("imap_user")
	in.MoveToFolder = text("move_to_folder")
	in.IMAPSecurity = val("imap_security")
	in.AfterFetch = val("after_fetch")
	for _, name := range []string{"imap_security", "after_fetch"} {
		if len(f.V[name]) > 20 {
			f.V[name] = ""
		}
	}
	// Secrets: checked, never shown again.
	in.IMAPPassword = c.FormValue("imap_password")
	if len(in.IMAPPassword) > 1024 || !utf8.ValidString(in.IMAPPassword) {
		f.Fields["imap_password"] = "at most 1024 characters of text"
	}
	in.SMTPURL = c.FormValue("smtp_url")
	if len(in.SMTPURL) > maxFieldLen || !utf8.ValidString(in.SMTPURL) || strings.ContainsAny(in.SMTPURL, "\r\n\x00") {
		f.Fields["smtp_url"] = "one line, at most 2000 characters"
	}

	folders := val("folders")
	if len(folders) > 20000 || !utf8.ValidString(folders) {
		f.Fields["folders"] = "too long: at most 100 folders of 500 characters"
		f.V["folders"] = ""
	} else {
		for _, line := range strings.Split(folders, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if msg := badText(line, false); msg != "" {
				f.Fields["folders"] = "folder " + strconv.Quote(truncateRunes(line, 40)) + ": " + msg
			}
			in.Folders = append(in.Folders, line)
		}
		if len(in.Folders) > 100 {
			f.Fields["folders"] = "at most 100 folders"
		}
	}

	in.IMAPPort = int(parseIntField(f, val("imap_port"), "imap_port", 1, 65535, true))
	in.PollIntervalS = int(parseIntField(f, val("poll_interval_s"), "poll_interval_s", 5, 86400, false))
	in.MaxMessageBytes = parseIntField(f, val("max_message_bytes"), "max_message_bytes", 1024, 1<<30, false)

	if v := val("import_since"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil || t.Year() < 1990 || t.Year() > 2200 {
			f.Fields["import_since"] = "must be a date like 2024-01-31"
			f.V["import_since"] = ""
		} else {
			in.ImportSince = &t
		}
	}
	var ok bool
	if in.Enabled, ok = parseBool(c.FormValue("enabled")); !ok {
		f.Fields["enabled"] = "must be on or off"
	}
	if in.AutoAck, ok = parseBool(c.FormValue("auto_ack")); !ok {
		f.Fields["auto_ack"] = "must be on or off"
	}
	f.Enabled, f.AutoAck = in.Enabled, in.AutoAck

	// The domain's own checks, so every problem shows at once.
	if err := in.Validate(creating); err != nil {
		for k, v := range errorFields(err) {
			if _, seen := f.Fields[k]; !seen {
				f.Fields[k] = v
			}
		}
	}
	if len(f.Fields) == 0 {
		f.Fields = nil
	}
	return in, f
}

// badText says what is wrong with a one-line text value, "" if nothing.
// Markup is refused outright: no name, address or folder needs < or >.
func badText(v string, multiline bool) string {
	switch {
	case len(v) > maxFieldLen:
		return "too long: at most 2000 characters"
	case !utf8.ValidString(v):
		return "must be text (UTF-8)"
	case strings.ContainsAny(v, "<>"):
		return "must not contain < or >"
	}
	for _, r := range v {
		if r < 0x20 && !(multiline && (r == '\n' || r == '\r' || r == '\t')) || r == 0x7f {
			return "must not contain control characters or line breaks"
		}
	}
	return ""
}

func parseIntField(f mailboxForm, v, name string, lo, hi int64, required bool) int64 {
	v = strings.TrimSpace(v)
	if v == "" {
		if required {
			f.Fields[name] = fmt.Sprintf("required: a whole number from %d to %d", lo, hi)
		}
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		f.Fields[name] = fmt.Sprintf("must be a whole number from %d to %d", lo, hi)
		if len(v) > 30 {
			f.V[name] = ""
		}
		return 0
	}
	return n
}

// parseBool reads a checkbox: absent is false.
func parseBool(v string) (value, ok bool) {
	switch v {
	case "", "false", "off", "0":
		return false, true
	case "on", "true", "1":
		return true, true
	}
	return false, false
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
