package helpdesk

import (
	"errors"
	"net"
	"net/url"
	"strconv"
)

// SMTPServer is a parsed SMTP URL: smtp://[user:pass@]host[:port] (STARTTLS
// when the server offers it, default port 25) or smtps://... (TLS from the
// first byte, default port 465).
type SMTPServer struct {
	Addr        string // host:port
	Host        string
	ImplicitTLS bool
	User        string
	Password    string
}

// ParseSMTPURL parses HELPDESK_SMTP_URL or a mailbox's SMTP URL: the
// notifier sends with what it returns, and saving a mailbox checks its URL
// with it. Its errors never quote the URL or a piece of it, since the URL
// holds a password.
func ParseSMTPURL(raw string) (SMTPServer, error) {
	u, err := url.Parse(raw)
	var escErr url.EscapeError
	switch {
	case errors.As(err, &escErr):
		return SMTPServer{}, errors.New("SMTP URL: a % in the user name or password must be written %25")
	case err != nil:
		return SMTPServer{}, errors.New("SMTP URL: not a URL like smtp://user:pass@host:port; percent-encode / ? # @ : and spaces in the user name and password")
	}
	var srv SMTPServer
	port := "25"
	switch u.Scheme {
	case "smtp":
	case "smtps":
		srv.ImplicitTLS, port = true, "465"
	default:
		return SMTPServer{}, errors.New("SMTP URL: want smtp://user:pass@host:port or smtps://...")
	}
	// A / ? or # left unencoded in the password ends the host early: the
	// rest would be read as a path and the digits before it as the port.
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return SMTPServer{}, errors.New("SMTP URL: nothing may follow host:port; percent-encode / ? # in the user name and password")
	}
	srv.Host = u.Hostname()
	if srv.Host == "" {
		return SMTPServer{}, errors.New("SMTP URL: no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return SMTPServer{}, errors.New("SMTP URL: the port must be a number from 1 to 65535")
		}
		port = p
	}
	srv.Addr = net.JoinHostPort(srv.Host, port)
	if u.User != nil {
		srv.User = u.User.Username()
		srv.Password, _ = u.User.Password()
	}
	return srv, nil
}

// IsLoopbackHost reports a host that is this machine by name or address:
// the only place a password may go unencrypted (SMTP always; IMAP unless
// the mailbox allows it).
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
