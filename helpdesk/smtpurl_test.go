package helpdesk

import (
	"errors"
	"log/slog"
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

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		`HELPDESK_SMTP_URL: SMTP URL: parse "smtp://alice:S3cr%zzPW@mail.example.com": invalid URL escape "%zz"`: `HELPDESK_SMTP_URL: SMTP URL: parse "smtp://alice:xxxxx@mail.example.com": invalid URL escape`,
		`parse "smtp://user:pa/ss@h": invalid port ":pa" after host`:                                             `parse "smtp://user:xxxxx@h": invalid port after host`,
		"dial redis://:S3crPW@10.0.0.1:6379/0 failed":                                                            "dial redis://:xxxxx@10.0.0.1:6379/0 failed",
		"smtp://user@host and https://example.com/a@b":                                                           "smtp://user@host and https://example.com/a@b",
		"RCPT TO <a@b.example>: 550 no such user":                                                                "RCPT TO <a@b.example>: 550 no such user",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

// The binary's log handler passes string and error values through Redact.
func TestRedactLogAttr(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: RedactLogAttr}))
	log.Error("start failed", "err", errors.New(`dial "redis://:S3crPW@10.0.0.1:6379"`), "url", "smtps://u:S3crPW@h.example", "n", 3)
	if strings.Contains(buf.String(), "S3crPW") || !strings.Contains(buf.String(), "redis://:xxxxx@10.0.0.1") || !strings.Contains(buf.String(), "n=3") {
		t.Errorf("log line %q", buf.String())
	}
}
