package helpdesk

import (
	"log/slog"
	"regexp"
	"strings"
)

// Redact removes credentials from text that may quote a URL (an error, a
// stored last_error): the password of scheme://user:password@host, and
// the pieces of a URL that Go's url package quotes in its errors. Every
// error text that is stored, logged or shown passes through it: the
// notifier's last_error, the log (RedactLogAttr), the status page and
// the API.
func Redact(text string) string {
	text = urlWithUserinfo.ReplaceAllStringFunc(text, func(m string) string {
		scheme, userinfo, _ := strings.Cut(m, "://")
		user, _, hasPassword := strings.Cut(strings.TrimSuffix(userinfo, "@"), ":")
		if !hasPassword {
			return m
		}
		return scheme + "://" + user + ":xxxxx@"
	})
	return urlErrorPiece.ReplaceAllString(text, "$1")
}

var (
	// A scheme, then everything up to the last @ before a space: a password
	// with an unencoded / or @ still ends up inside the match.
	urlWithUserinfo = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.\-]*://\S*@`)
	// net/url: invalid URL escape "%zz", invalid port ":pa" after host,
	// invalid character "x" in host name.
	urlErrorPiece = regexp.MustCompile(`(invalid URL escape|invalid port|invalid character) "(?:[^"\\]|\\.)*"`)
)

// RedactLogAttr is a slog.HandlerOptions.ReplaceAttr that passes string
// and error values through Redact.
func RedactLogAttr(_ []string, a slog.Attr) slog.Attr {
	switch v := a.Value.Any().(type) {
	case string:
		if r := Redact(v); r != v {
			return slog.String(a.Key, r)
		}
	case error:
		if s := v.Error(); Redact(s) != s {
			return slog.String(a.Key, Redact(s))
		}
	}
	return a
}
