package notifier

import (
	"context"
	"errors"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// route is where and how mail of one mailbox is sent: an SMTP URL, and
// for an OAuth2 mailbox, AUTH XOAUTH2 as User with its access token.
type route struct {
	URL          string
	OAuthMailbox int64 // 0: the URL's password, if any
	User         string
}

// routeFor is the mailbox's own SMTP URL, else the global one. An OAuth2
// mailbox sends through its own SMTP URL, else its provider's server,
// signed in with its access token.
func (s *Service) routeFor(ctx context.Context, m helpdesk.OutboxMessage, urls map[int64]route) (route, error) {
	if m.MailboxID == 0 {
		return route{URL: s.cfg.SMTPURL}, nil
	}
	if r, ok := urls[m.MailboxID]; ok {
		return r, nil
	}
	r := route{URL: s.cfg.SMTPURL}
	mb, err := s.store.Mailbox(ctx, m.MailboxID)
	switch {
	case errors.Is(err, helpdesk.ErrNotFound):
	case err != nil:
		return route{}, err
	default:
		own, err := s.store.SMTPURL(mb)
		if err != nil {
			return route{}, fmt.Errorf("SMTP URL of mailbox %d: %w", m.MailboxID, err)
		}
		if own != "" {
			r.URL = own
		}
		if mb.IMAPAuth == helpdesk.AuthOAuth2 {
			if r, err = oauthRoute(mb, own); err != nil {
				return route{}, err
			}
		}
	}
	urls[m.MailboxID] = r
	return r, nil
}

// oauthRoute sends as an OAuth2 mailbox: its own SMTP URL (smtp://user@host:port,
// no password) or its provider's server, as the URL's user or the IMAP user.
func oauthRoute(mb *helpdesk.Mailbox, own string) (route, error) {
	r := route{URL: own, OAuthMailbox: mb.ID, User: mb.IMAPUser}
	if own == "" {
		r.URL = helpdesk.OAuthProviders[mb.OAuth.Provider].SMTPURL
	}
	if r.URL == "" {
		return route{}, fmt.Errorf("mailbox %d signs in with OAuth2 but has no SMTP URL (smtp://user@host:port): mail waits in the outbox", mb.ID)
	}
	srv, err := helpdesk.ParseSMTPURL(r.URL)
	if err != nil {
		return route{}, err
	}
	if srv.User != "" {
		r.User = srv.User
	}
	return r, nil
}
