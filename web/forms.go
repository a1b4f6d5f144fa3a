package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Reading what a request sends: path IDs, and the admin forms, which are
// shown again with the values as typed beside their errors. Types, sizes
// and markup are checked here, before the domain's Validate; both sets of
// errors are shown at once.

// parseID reads a positive int64 path parameter; anything else is a 400
// that names the parameter.
func parseID(c echo.Context, name string) (int64, error) {
	raw := c.Param(name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 || len(raw) > 19 || raw[0] == '+' || raw[0] == '0' {
		return 0, &fieldError{status: http.StatusBadRequest, fields: map[string]string{name: "must be a positive whole number"}}
	}
	return id, nil
}

// itoa formats an ID for a path (or a number for a header).
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

const maxFieldLen = 2000

// mailboxForm is the create/edit form: the values as typed (for showing
// them again beside their errors) and the errors by field. Stored
// passwords are never put in it; HasPassword only says one is stored.
type mailboxForm struct {
	ID      int64 // 0 when creating
	V       map[string]string
	Enabled bool
	AutoAck bool
	// AllowInsecure: security "none" may send the password to another host.
	AllowInsecure bool
	HasPassword   bool
	HasSMTPURL    bool
	Fields        map[string]string
}

// parseMailboxForm reads the mailbox form; a new mailbox may sign in with
// OAuth2, with the configured client of a preset provider (clients).
func parseMailboxForm(c echo.Context, creating bool, clients map[string]OAuthClient) (helpdesk.MailboxInput, mailboxForm) {
	f := mailboxForm{V: map[string]string{}, Fields: map[string]string{}}
	val := func(name string) string {
		v := c.FormValue(name)
		f.V[name] = v
		return v
	}
	var in helpdesk.MailboxInput
	text := func(name string) string {
		v := val(name)
		if msg := badText(v, false); msg != "" {
			f.Fields[name] = msg
			f.V[name] = ""
		}
		return v
	}
	in.Name = text("name")
	in.Email = text("email")
	in.IMAPHost = text("imap_host")
	in.IMAPUser = text("imap_user")
	in.MoveToFolder = text("move_to_folder")
	in.IMAPSecurity = val("imap_security")
	in.AfterFetch = val("after_fetch")
	in.Signature = val("signature") // checked by the domain: length, placeholders
	for _, name := range []string{"imap_security", "after_fetch"} {
		if len(f.V[name]) > 20 {
			f.V[name] = ""
		}
	}
	// Secrets: checked, never shown again.
	in.IMAPPassword = c.FormValue("imap_password")
	if len(in.IMAPPassword) > 1024 || !utf8.ValidString(in.IMAPPassword) {
		f.Fields["imap_password"] = "at most 1024 characters of text"
	}
	in.SMTPURL = c.FormValue("smtp_url")
	if len(in.SMTPURL) > maxFieldLen || !utf8.ValidString(in.SMTPURL) || strings.ContainsAny(in.SMTPURL, "\r\n\x00") {
		f.Fields["smtp_url"] = "one line, at most 2000 characters"
	}

	folders := val("folders")
	if len(folders) > 20000 || !utf8.ValidString(folders) {
		f.Fields["folders"] = "too long: at most 100 folders of 500 characters"
		f.V["folders"] = ""
	} else {
		for _, line := range strings.Split(folders, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if msg := badText(line, false); msg != "" {
				f.Fields["folders"] = "folder " + strconv.Quote(truncateRunes(line, 40)) + ": " + msg
			}
			in.Folders = append(in.Folders, line)
		}
		if len(in.Folders) > 100 {
			f.Fields["folders"] = "at most 100 folders"
		}
	}

	in.IMAPPort = int(parseIntField(f, val("imap_port"), "imap_port", 1, 65535, true))
	in.PollIntervalS = int(parseIntField(f, val("poll_interval_s"), "poll_interval_s", 5, 86400, false))
	in.MaxMessageBytes = parseIntField(f, val("max_message_bytes"), "max_message_bytes", 1024, 1<<30, false)

	if v := val("import_since"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil || t.Year() < 1990 || t.Year() > 2200 {
			f.Fields["import_since"] = "must be a date like 2024-01-31"
			f.V["import_since"] = ""
		} else {
			in.ImportSince = &t
		}
	}
	if creating {
		parseSignIn(c, &in, f, val, text, clients)
	}
	var ok bool
	if in.Enabled, ok = parseBool(c.FormValue("enabled")); !ok {
		f.Fields["enabled"] = "must be on or off"
	}
	if in.AutoAck, ok = parseBool(c.FormValue("auto_ack")); !ok {
		f.Fields["auto_ack"] = "must be on or off"
	}
	if in.IMAPAllowInsecure, ok = parseBool(c.FormValue("imap_allow_insecure")); !ok {
		f.Fields["imap_allow_insecure"] = "must be on or off"
	}
	f.Enabled, f.AutoAck, f.AllowInsecure = in.Enabled, in.AutoAck, in.IMAPAllowInsecure

	// The domain's own checks, so every problem shows at once.
	if err := in.Validate(creating); err != nil {
		for k, v := range errorFields(err) {
			if _, seen := f.Fields[k]; !seen {
				f.Fields[k] = v
			}
		}
	}
	if len(f.Fields) == 0 {
		f.Fields = nil
	}
	return in, f
}

// badText says what is wrong with a one-line text value, "" if nothing.
// Markup is refused outright: no name, address or folder needs < or >.
func badText(v string, multiline bool) string {
	switch {
	case len(v) > maxFieldLen:
		return "too long: at most 2000 characters"
	case !utf8.ValidString(v):
		return "must be text (UTF-8)"
	case strings.ContainsAny(v, "<>"):
		return "must not contain < or >"
	}
	for _, r := range v {
		if r < 0x20 && !(multiline && (r == '\n' || r == '\r' || r == '\t')) || r == 0x7f {
			return "must not contain control characters or line breaks"
		}
	}
	return ""
}

func parseIntField(f mailboxForm, v, name string, lo, hi int64, required bool) int64 {
	v = strings.TrimSpace(v)
	if v == "" {
		if required {
			f.Fields[name] = fmt.Sprintf("required: a whole number from %d to %d", lo, hi)
		}
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		f.Fields[name] = fmt.Sprintf("must be a whole number from %d to %d", lo, hi)
		if len(v) > 30 {
			f.V[name] = ""
		}
		return 0
	}
	return n
}

// parseBool reads a checkbox: absent is false.
func parseBool(v string) (value, ok bool) {
	switch v {
	case "", "false", "off", "0":
		return false, true
	case "on", "true", "1":
		return true, true
	}
	return false, false
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// parseSignIn reads how a new mailbox signs in: its password, or OAuth2
// with a provider (connected afterwards on the mailbox's page).
func parseSignIn(c echo.Context, in *helpdesk.MailboxInput, f mailboxForm, val, text func(string) string,
	clients map[string]OAuthClient) {
	in.IMAPAuth = val("imap_auth")
	if in.IMAPAuth != helpdesk.AuthOAuth2 {
		if len(in.IMAPAuth) > 20 {
			f.V["imap_auth"] = ""
		}
		return
	}
	in.IMAPPassword = ""
	in.OAuth = helpdesk.OAuthInput{Provider: val("oauth_provider"), AuthURL: text("oauth_auth_url"),
		TokenURL: text("oauth_token_url"), ClientID: text("oauth_client_id"), ClientSecret: c.FormValue("oauth_client_secret")}
	if len(in.OAuth.Provider) > 20 {
		f.V["oauth_provider"] = ""
	}
	if len(in.OAuth.ClientSecret) > 1024 || !utf8.ValidString(in.OAuth.ClientSecret) {
		f.Fields["oauth_client_secret"] = "at most 1024 characters of text"
	}
	if cl, ok := clients[in.OAuth.Provider]; ok && in.OAuth.ClientID == "" {
		in.OAuth.ClientID, in.OAuth.ClientSecret = cl.ID, cl.Secret
	}
	if _, preset := clients[in.OAuth.Provider]; !preset && in.OAuth.Provider != "generic" && in.OAuth.ClientID == "" {
		f.Fields["oauth_client_id"] = "no client is configured for this provider (HELPDESK_OAUTH_" +
			strings.ToUpper(in.OAuth.Provider) + "_CLIENT_ID): enter one"
	}
}
