package main

import (
	"bytes"
	"io"
	"mime"
	"net"
	"net/mail"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/helpdesk/helpdesk/web"
)

// caughtLimit is how many mails the demo's catcher keeps; older ones go.
const caughtLimit = 500

// mailCatcher is the demo's SMTP server: it accepts every mail the
// notifier sends and keeps the newest in memory for the admin page
// /admin/caught, so the demo's replies and notifications are delivered
// somewhere an admin can see them.
type mailCatcher struct {
	srv  *smtp.Server
	addr string

	mu     sync.Mutex
	nextID int
	mails  []web.CaughtMessage // oldest first
}

// startMailCatcher listens on a free 127.0.0.1 port.
func startMailCatcher() (*mailCatcher, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &mailCatcher{addr: ln.Addr().String()}
	c.srv = smtp.NewServer(c)
	c.srv.Domain = "demo-catcher.localhost"
	c.srv.MaxMessageBytes = 32 << 20
	c.srv.ReadTimeout, c.srv.WriteTimeout = time.Minute, time.Minute
	go c.srv.Serve(ln)
	return c, nil
}

// URL is the HELPDESK_SMTP_URL that sends to the catcher.
func (c *mailCatcher) URL() string { return "smtp://" + c.addr }

func (c *mailCatcher) Close() error { return c.srv.Close() }

// CaughtMessages returns the caught mails, newest first.
func (c *mailCatcher) CaughtMessages() []web.CaughtMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]web.CaughtMessage, len(c.mails))
	for i, m := range c.mails {
		out[len(out)-1-i] = m
	}
	return out
}

func (c *mailCatcher) keep(m web.CaughtMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	m.ID = c.nextID
	c.mails = append(c.mails, m)
	if len(c.mails) > caughtLimit {
		c.mails = c.mails[len(c.mails)-caughtLimit:]
	}
}

// NewSession implements smtp.Backend.
func (c *mailCatcher) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &catcherSession{c: c}, nil
}

type catcherSession struct {
	c    *mailCatcher
	from string
	to   []string
}

func (s *catcherSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *catcherSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *catcherSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := web.CaughtMessage{From: s.from, To: s.to, Received: time.Now().UTC(), Raw: raw}
	if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		dec := new(mime.WordDecoder)
		m.Subject = msg.Header.Get("Subject")
		if d, err := dec.DecodeHeader(m.Subject); err == nil {
			m.Subject = d
		}
	}
	s.c.keep(m)
	return nil
}

func (s *catcherSession) Reset() { s.from, s.to = "", nil }

func (s *catcherSession) Logout() error { return nil }
