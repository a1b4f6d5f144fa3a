package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Templates: templates/layout.html defines "layout", which every page
// runs; each other file defines the page's "content" block (and may use
// the partials in templates/_*.html). A page is rendered by its file name.

//go:embed templates/*.html
var templateFS embed.FS

// pageData is what every template gets.
type pageData struct {
	Title  string
	User   *helpdesk.User
	CSRF   string         // for the forms of this page: {{template "csrf" .}}
	Notice string         // a fixed confirmation message chosen by ?notice=
	Path   string         // the request path, for nav highlighting
	Demo   bool           // the demo's catcher holds the sent mail (nav link)
	Zone   *time.Location // the user's time zone: {{when .T $.Zone}}
	Data   any            // the page's own data
}

// notices are the confirmations a redirect can ask for with ?notice=KEY;
// a fixed list, so a link cannot put text of its own on a page.
// ctxNotice lets a handler that answers directly (not by redirect) pick
// the notice.
const ctxNotice = "helpdesk.notice"

var notices = map[string]string{
	"created":          "Mailbox created.",
	"saved":            "Changes saved.",
	"bulk-done":        "Every selected conversation was changed.",
	"marked-unread":    "Marked unread: it stays bold in your list until you open it.",
	"reply-queued":     "Reply queued: it shows as sent once the mail server has accepted it.",
	"forwarded":        "Conversation forwarded: the mail is queued, and a note records it.",
	"merged":           "Conversations merged: the other one's messages, participants and tags are in this one now.",
	"reply-retried":    "The mail is queued again; it shows as sent once the mail server has accepted it.",
	"connected":        "Mailbox connected: it signs in with the account below.",
	"enabled":          "Fetching enabled.",
	"disabled":         "Fetching disabled.",
	"fetch-requested":  "Fetch requested: the fetch service runs it shortly.",
	"retry-requested":  "The message will be retried on the mailbox's next fetch.",
	"outbox-retried":   "The mail is queued again; the notifier sends it shortly.",
	"user-created":     "User created.",
	"access-saved":     "Mailbox access saved.",
	"role-saved":       "Role saved: it applies from the user's next request.",
	"user-disabled":    "User disabled: signed out everywhere, API tokens refused.",
	"user-enabled":     "User enabled: they can sign in again.",
	"password-reset":   "Password reset: the user's sessions ended.",
	"user-deleted":     "User deleted; their open conversations were reassigned or unassigned.",
	"password-changed": "Password changed. Other browsers signed in as you were signed out.",
	"token-revoked":    "Token revoked: it no longer works.",
	"time-zone-saved":  "Time zone saved: your pages show times in it.",
	"saved-reply-new":  "Saved reply created: agents can insert it now.",
	"saved-reply-gone": "Saved reply deleted.",
	"saved-reply-used": "Saved reply inserted into your reply: check it, then send.",
}

var templateFuncs = template.FuncMap{
	"bytesize": helpdesk.ByteSize,
	"isotime": func(t any) string {
		v, ok := timeValue(t)
		if !ok {
			return ""
		}
		return v.UTC().Format(time.RFC3339)
	},
	"ago": func(t any) string {
		v, ok := timeValue(t)
		if !ok {
			return ""
		}
		return relativeTime(time.Since(v))
	},
	"when":     formatWhen,
	"linkify":  linkify,
	"duration": humanDuration,
	"millis":   func(ms int64) string { return humanDuration(time.Duration(ms) * time.Millisecond) },
	"runtime": func(r helpdesk.FetchRun) string {
		if r.FinishedAt == nil {
			return "running or unfinished"
		}
		return humanDuration(r.FinishedAt.Sub(r.StartedAt))
	},
	"contains": func(list []int64, v int64) bool {
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	},
	"join":     strings.Join,
	"itoa":     itoa,
	"sortName": func(sort string) string { return sortNames[sort] },
	"maxTag":   func() int { return helpdesk.MaxTagLength },
	"ferr": func(fields map[string]string, name string) fieldMessage {
		return fieldMessage{Name: name, Msg: fields[name]}
	},
	"list": func(xs ...string) []string { return xs },
	"quarantineView": func(items []helpdesk.QuarantinedMessage, names map[int64]string, zone *time.Location) quarantineView {
		return quarantineView{Items: items, Names: names, Zone: zone}
	},
	"mailboxNames": func(m *helpdesk.Mailbox) map[int64]string { return map[int64]string{m.ID: m.Name} },
	"tokensView": func(tokens []helpdesk.APIToken, owners bool, now time.Time, csrf string, zone *time.Location) tokensView {
		return tokensView{Tokens: tokens, Owners: owners, Now: now, CSRF: csrf, Zone: zone}
	},
	"zoned": func(data any, zone *time.Location) zonedData { return zonedData{Data: data, Zone: zone} },
}

// zonedData hands a partial that prints times its data with the viewer's
// time zone: {{template "runs" (zoned $st.Runs $.Zone)}}.
type zonedData struct {
	Data any
	Zone *time.Location
}

// tokensView is the data of the "tokens" partial.
type tokensView struct {
	Tokens []helpdesk.APIToken
	Owners bool // show whose each token is
	Now    time.Time
	CSRF   string
	Zone   *time.Location // the viewer's
}

// fieldMessage is the data of the "fielderr" partial.
type fieldMessage struct{ Name, Msg string }

// humanDuration prints d coarsely: 350ms, 12.3s, 4m5s, 3h2m, 2d4h.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// mustParseTemplates parses every page with the layout and the partials.
func mustParseTemplates() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	var partials []string
	for _, n := range names {
		if strings.HasPrefix(path.Base(n), "_") {
			partials = append(partials, n)
		}
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || strings.HasPrefix(base, "_") {
			continue
		}
		files := append([]string{"templates/layout.html"}, partials...)
		files = append(files, n)
		t, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFS, files...)
		if err != nil {
			panic(fmt.Sprintf("web: template %s: %v", base, err))
		}
		pages[base] = t
	}
	return pages
}

// render writes a page in the layout with the given status.
func (s *Server) render(c echo.Context, status int, name, title string, data any) error {
	t := s.pages[name]
	if t == nil {
		return fmt.Errorf("web: no template %q", name)
	}
	notice, _ := c.Get(ctxNotice).(string)
	if notice == "" {
		notice = c.QueryParam("notice")
	}
	p := pageData{
		Title:  title,
		User:   currentUser(c),
		CSRF:   csrfToken(c),
		Notice: notices[notice],
		Path:   c.Request().URL.Path,
		Demo:   s.cfg.CaughtMail != nil,
		Zone:   currentUser(c).Location(),
		Data:   data,
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if err := t.ExecuteTemplate(buf, "layout", p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return buffers.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > 4<<20 {
		return
	}
	b.Reset()
	buffers.Put(b)
}
