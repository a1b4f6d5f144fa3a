package helpdesk

import (
	"strings"
	"testing"
)

func TestParseSMTPURL(t *testing.T) {
	for raw, want := range map[string]SMTPServer{
		"smtp://mail.example.com":                 {Addr: "mail.example.com:25", Host: "mail.example.com"},
		"smtp://mail.example.com/":                {Addr: "mail.example.com:25", Host: "mail.example.com"},
		"smtp://u%40x:p%3Aw@mail.example.com:587": {Addr: "mail.example.com:587", Host: "mail.example.com", User: "u@x", Password: "p:w"},
		"smtps://u:p@[::1]":                       {Addr: "[::1]:465", Host: "::1", ImplicitTLS: true, User: "u", Password: "p"},
		"smtp://u:a%2Fb%3Fc%23d%25e@h.example":    {Addr: "h.example:25", Host: "h.example", User: "u", Password: "a/b?c#d%e"},
	} {
		got, err := ParseSMTPURL(raw)
		if err != nil || got != want {
			t.Errorf("ParseSMTPURL(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
	for _, bad := range []string{"http://x", "smtp://", "mail.example.com:25", "smtp://h:0", "smtp://h:70000"} {
		if _, err := ParseSMTPURL(bad); err == nil {
			t.Errorf("ParseSMTPURL(%q): no error", bad)
		}
	}
}

// A password typed without percent-encoding makes the URL invalid or
// changes its meaning; the error says so without quoting any of it.
func TestParseSMTPURLErrorsHoldNoPassword(t *testing.T) {
	for _, raw := range []string{
		"smtp://alice:S3cr%zzPW@mail.example.com:587", // a bad escape
		"smtp://alice:S3cr%PW@mail.example.com",
		"smtp://alice:S3cr/PW@mail.example.com",     // the host would end at the /
		"smtp://alice:4711/S3crPW@mail.example.com", // digits before the / would be the port
		"smtp://alice:S3cr?PW@mail.example.com",
		"smtp://alice:S3cr#PW@mail.example.com",
		"smtp://alice:S3cr PW@mail.example.com",
		"smtp://alice:S3cr\x7fPW@mail.example.com",
		"smtp://alice:S3crPW@mail.example.com:S3cr",
		"smtp://alice:S3crPW@[mail.example.com",
		"smtpx://alice:S3crPW@mail.example.com",
	} {
		_, err := ParseSMTPURL(raw)
		if err == nil {
			t.Errorf("%q: no error", raw)
			continue
		}
		for _, piece := range []string{"S3cr", "PW", "4711", "%zz", "alice"} {
			if strings.Contains(err.Error(), piece) {
				t.Errorf("%q: the error %q quotes %q", raw, err, piece)
			}
		}
	}
}
