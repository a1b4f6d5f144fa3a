package helpdesk

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

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
