package web

import (
	"bytes"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// CaughtMail is the demo's SMTP catcher: what the notifier sent while no
// real SMTP server was configured. Outside the demo there is none.
type CaughtMail interface {
	CaughtMessages() []CaughtMessage // newest first
}

// CaughtMessage is one mail the catcher accepted.
type CaughtMessage struct {
	ID       int
	From     string   // envelope sender
	To       []string // envelope recipients
	Subject  string
	Received time.Time
	Raw      []byte
}

// caughtPage is /admin/caught: the list, or one mail with its text.
type caughtPage struct {
	Mails []CaughtMessage
	Mail  *CaughtMessage
	Text  string // the mail's first text/plain part
}

// adminCaught lists what the demo's catcher caught.
func (s *Server) adminCaught(c echo.Context) error {
	if s.cfg.CaughtMail == nil {
		return helpdesk.ErrNotFound
	}
	return s.render(c, 200, "admin_caught.html", "Sent mail", caughtPage{Mails: s.cfg.CaughtMail.CaughtMessages()})
}

// adminCaughtMail shows one caught mail: its text and its source.
func (s *Server) adminCaughtMail(c echo.Context) error {
	if s.cfg.CaughtMail == nil {
		return helpdesk.ErrNotFound
	}
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	for _, m := range s.cfg.CaughtMail.CaughtMessages() {
		if int64(m.ID) == id {
			return s.render(c, 200, "admin_caught.html", m.Subject, caughtPage{Mail: &m, Text: plainText(m.Raw)})
		}
	}
	return helpdesk.ErrNotFound
}

// plainText is the first text/plain part of a mail, decoded; empty when
// it has none or cannot be read (the page shows the source anyway).
func plainText(raw []byte) string {
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	for {
		p, err := r.NextPart()
		if err != nil {
			return ""
		}
		h, ok := p.Header.(*mail.InlineHeader)
		if !ok {
			continue
		}
		if t, _, _ := mime.ParseMediaType(h.Get("Content-Type")); t != "" && !strings.EqualFold(t, "text/plain") {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p.Body, 1<<20))
		if err != nil {
			return ""
		}
		return string(b)
	}
}
