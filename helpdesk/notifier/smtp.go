package notifier

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/oauth"
)

// permanentError is a 5xx answer to MAIL, RCPT or DATA: the server will
// not take this mail, so retrying cannot help.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// IsPermanent reports an error that makes a mail failed at once.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// classify marks 5xx answers to a mail transaction permanent; everything
// else (4xx, dropped connections, timeouts) is worth a retry.
func classify(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 && se.Code < 600 {
		return permanentError{err}
	}
	return err
}

// dataTimeout is how long the answer to the end of DATA may take (RFC
// 5321 4.5.3.2.6: 10 minutes). Giving up earlier would turn a slow server
// that does accept the mail into a second send; the claim is renewed
// meanwhile.
const dataTimeout = 10 * time.Minute

// sender is one SMTP session, kept open across the mails of one drain of
// the outbox and opened again after any error.
type sender struct {
	helo      string
	tlsConfig *tls.Config
	timeout   time.Duration // per command but the end of DATA (dataTimeout)

	tokens TokenSource // access tokens of OAuth2 mailboxes

	route  route // of the open session
	client *smtp.Client
}

// send delivers one composed message over the session for r, dialling
// when needed. ctx ending closes the connection at once.
func (s *sender) send(ctx context.Context, r route, from string, to []string, data []byte) error {
	if s.client == nil || s.route != r {
		s.close()
		c, err := s.dialRoute(ctx, r)
		if err != nil {
			return err
		}
		s.client, s.route = c, r
	}
	c := s.client
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	err := transaction(c, from, to, data)
	if err != nil {
		// After any error the session's state is unclear: start afresh.
		s.close()
		if ctx.Err() != nil {
			return fmt.Errorf("send: %w", context.Cause(ctx))
		}
	}
	return err
}

func transaction(c *smtp.Client, from string, to []string, data []byte) error {
	if err := c.Mail(from, nil); err != nil {
		return classify(fmt.Errorf("MAIL FROM: %w", err))
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return classify(fmt.Errorf("RCPT TO <%s>: %w", rcpt, err))
		}
	}
	w, err := c.Data()
	if err != nil {
		return classify(fmt.Errorf("DATA: %w", err))
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return classify(fmt.Errorf("end of DATA: %w", err))
	}
	return nil
}

// dialRoute opens a session for r: with a password from the URL, or for
// an OAuth2 mailbox with AUTH XOAUTH2 and its access token, refreshed and
// tried once more when the server rejects a cached one.
func (s *sender) dialRoute(ctx context.Context, r route) (*smtp.Client, error) {
	if r.OAuthMailbox == 0 {
		return s.dial(ctx, r.URL, nil)
	}
	if s.tokens == nil {
		return nil, fmt.Errorf("mailbox %d signs in with OAuth2 but this notifier has no token source", r.OAuthMailbox)
	}
	token, err := s.tokens.AccessToken(ctx, r.OAuthMailbox)
	if err != nil {
		return nil, err
	}
	c, err := s.dial(ctx, r.URL, oauth.NewSASLClient(oauth.XOAuth2, r.User, token))
	if err == nil || !smtpTokenRejected(err) {
		return c, err
	}
	if token, err = s.tokens.Refresh(ctx, r.OAuthMailbox, token); err != nil {
		return nil, err
	}
	return s.dial(ctx, r.URL, oauth.NewSASLClient(oauth.XOAuth2, r.User, token))
}

// smtpTokenRejected: the server refused the token, with a challenge or 535.
func smtpTokenRejected(err error) bool {
	var se *smtp.SMTPError
	return oauth.IsRejected(err) || errors.As(err, &se) && se.Code == 535
}

// dial connects, upgrades with STARTTLS when offered (smtp://), and
// authenticates with auth, else when the URL has a user with its
// password. It never sends a password or token over an unencrypted
// connection except to a loopback address.
func (s *sender) dial(ctx context.Context, smtpURL string, auth sasl.Client) (*smtp.Client, error) {
	srv, err := helpdesk.ParseSMTPURL(smtpURL)
	if err != nil {
		return nil, err
	}
	if auth == nil && srv.User != "" {
		auth = sasl.NewPlainClient("", srv.User, srv.Password)
	}
	tlsConfig := &tls.Config{}
	if s.tlsConfig != nil {
		tlsConfig = s.tlsConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = srv.Host
	}
	c, secure, err := s.connect(ctx, srv, tlsConfig)
	if err != nil {
		return nil, fmt.Errorf("connect to SMTP server %s: %w", srv.Addr, err)
	}
	if auth != nil {
		if !secure && !helpdesk.IsLoopbackHost(srv.Host) {
			c.Close()
			return nil, fmt.Errorf("SMTP server %s offers no TLS: refusing to send the password in clear", srv.Addr)
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		err := c.Auth(auth)
		stop()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("SMTP login at %s as %q: %w", srv.Addr, srv.User, err)
		}
	}
	return c, nil
}

const errNoStartTLS = "smtp: server doesn't support STARTTLS"

func (s *sender) connect(ctx context.Context, srv helpdesk.SMTPServer, tlsConfig *tls.Config) (*smtp.Client, bool, error) {
	dialer := &net.Dialer{Timeout: s.timeout}
	open := func(startTLS bool) (*smtp.Client, error) {
		conn, err := dialer.DialContext(ctx, "tcp", srv.Addr)
		if err != nil {
			return nil, err
		}
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		var c *smtp.Client
		switch {
		case srv.ImplicitTLS:
			tc := tls.Client(conn, tlsConfig)
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, err
			}
			c = smtp.NewClient(tc)
		case startTLS:
			if c, err = smtp.NewClientStartTLS(conn, tlsConfig); err != nil {
				return nil, err
			}
		default:
			c = smtp.NewClient(conn)
		}
		c.CommandTimeout, c.SubmissionTimeout = s.timeout, dataTimeout
		if err := c.Hello(s.helo); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	if srv.ImplicitTLS {
		c, err := open(false)
		return c, true, err
	}
	// go-smtp upgrades only through NewClientStartTLS, which fails on a
	// server without STARTTLS; then a second, plain connection is used.
	c, err := open(true)
	if err == nil {
		return c, true, nil
	}
	if err.Error() != errNoStartTLS {
		return nil, false, err
	}
	c, err = open(false)
	return c, false, err
}

func (s *sender) close() {
	if s.client != nil {
		s.client.Close()
		s.client, s.route = nil, route{}
	}
}

// quit ends the session politely.
func (s *sender) quit() {
	if s.client != nil {
		s.client.Quit()
		s.close()
	}
}
