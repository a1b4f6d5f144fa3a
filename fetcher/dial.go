package fetcher

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/oauth"
)

// Login is how Dial signs in: with a password, or with an OAuth2 access
// token (SASL OAUTHBEARER where the server offers it, else XOAUTH2).
type Login struct {
	Password    string
	AccessToken string
}

// Dial connects with the mailbox's security setting and logs in; it does
// not connect at all when the login would send the password or token
// unencrypted where the mailbox does not allow it. tlsConfig may be nil
// (system roots, server name from the host).
func Dial(ctx context.Context, m *helpdesk.Mailbox, login Login, tlsConfig *tls.Config) (*Session, error) {
	if err := m.CheckPlaintextLogin(); err != nil {
		return nil, err
	}
	s := &Session{newMail: make(chan struct{}, 1), selects: make(map[string]Folder)}
	opts := &imapclient.Options{
		TLSConfig:   tlsFor(m, tlsConfig),
		WordDecoder: &mime.WordDecoder{CharsetReader: charset.Reader},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				if data.NumMessages != nil {
					s.signalNewMail()
				}
			},
		},
	}
	addr := net.JoinHostPort(m.IMAPHost, strconv.Itoa(m.IMAPPort))
	c, err := connect(ctx, addr, m.IMAPSecurity, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to %s (%s): %w", addr, m.IMAPSecurity, err)
	}
	s.c = c
	s.stop = context.AfterFunc(ctx, func() { c.Close() })
	if login.AccessToken != "" {
		if err := authenticate(c, m.IMAPUser, login.AccessToken); err != nil {
			// A refused token leaves go-imap inside AUTHENTICATE: the next
			// command would be taken as the SASL answer. Only closing helps.
			s.stop()
			c.Close()
			return nil, fmt.Errorf("IMAP login to %s as %s: %w", addr, m.IMAPUser, explainTokenLogin(serverAnswer(err)))
		}
		return s, nil
	}
	if err := c.Login(m.IMAPUser, login.Password).Wait(); err != nil {
		s.Close()
		return nil, fmt.Errorf("log in to %s as %s: %w", addr, m.IMAPUser, serverAnswer(err))
	}
	return s, nil
}

// authenticate presents an OAuth2 access token with OAUTHBEARER (RFC
// 7628) where the server offers it, else with XOAUTH2.
func authenticate(c *imapclient.Client, user, token string) error {
	caps := c.Caps()
	mech := oauth.XOAuth2
	switch {
	case caps.Has(imap.AuthCap(oauth.OAuthBearer)):
		mech = oauth.OAuthBearer
	case !caps.Has(imap.AuthCap(oauth.XOAuth2)):
		return errors.New("the server offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2")
	}
	return c.Authenticate(oauth.NewSASLClient(mech, user, token))
}

// tokenRejected tells a refused access token (worth one refresh and one
// more login) from other failures.
func tokenRejected(err error) bool {
	var imapErr *imap.Error
	return oauth.IsRejected(err) || errors.As(err, &imapErr) && imapErr.Code == imap.ResponseCodeAuthenticationFailed
}

// connectTimeout bounds the TCP connect and, with TLS, the handshake.
const connectTimeout = 15 * time.Second

// connect opens the connection under ctx, so that a stopping service does
// not wait for a connect to a dead server to time out.
func connect(ctx context.Context, addr, security string, opts *imapclient.Options) (*imapclient.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if security != "tls" && security != "starttls" && security != "none" {
		return nil, fmt.Errorf("unknown IMAP security %q", security)
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// The greeting, STARTTLS and the TLS handshake read from conn: closing
	// it when ctx ends interrupts them too.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var c *imapclient.Client
	switch security {
	case "tls":
		tc := tls.Client(conn, opts.TLSConfig)
		if err = tc.HandshakeContext(ctx); err == nil {
			c = imapclient.New(tc, opts)
		}
	case "starttls":
		c, err = imapclient.NewStartTLS(conn, opts)
	default:
		c = imapclient.New(conn, opts)
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func tlsFor(m *helpdesk.Mailbox, base *tls.Config) *tls.Config {
	cfg := &tls.Config{}
	if base != nil {
		cfg = base.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = m.IMAPHost
	}
	return cfg
}

// serverAnswer makes an IMAP NO/BAD answer readable with the server's own words.
func serverAnswer(err error) error {
	var imapErr *imap.Error
	if errors.As(err, &imapErr) {
		return fmt.Errorf("server answered %s: %w", imapErr.Type, err)
	}
	return err
}
