package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// TestTimeZoneSetting: an agent picks a time zone on /account; a name
// the zone database does not know is refused with the typed text kept, and
// the conversation page then shows the mail's Date and the received time
// in the chosen zone.
func TestTimeZoneSetting(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		conv := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{
			From: helpdesk.Address{Email: "dana@customer.example"}, Subject: "Dated",
			Date: time.Date(2026, 3, 1, 9, 30, 0, 0, time.FixedZone("", 2*3600)), Text: "Sent on the first of March.",
		}).ConversationID
		agent := w.session(t, w.agent)

		_, page := agent.get("/account")
		if !strings.Contains(page, `name="time_zone" value="UTC"`) {
			t.Fatalf("account page does not show UTC as the zone: %s", page)
		}
		for _, bad := range []string{"", "Local", "Mars/Olympus_Mons", "../../../etc/passwd", "/etc/localtime", "<b>x</b>", strings.Repeat("A", 100)} {
			resp, body := agent.submit("/account/time-zone", url.Values{"time_zone": {bad}})
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="time_zone"`) ||
				!strings.Contains(body, fmt.Sprintf(`name="time_zone" value="%s"`, template.HTMLEscapeString(bad))) {
				t.Errorf("zone %q: %d, want 422 with the error and the typed text", bad, resp.StatusCode)
			}
		}
		if u, err := w.store.User(t.Context(), w.agent.ID); err != nil || u.TimeZone != "UTC" {
			t.Fatalf("after refusals the zone is %q (%v)", u.TimeZone, err)
		}

		resp, _ := agent.submit("/account/time-zone", url.Values{"time_zone": {" Asia/Kolkata "}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account?notice=time-zone-saved" {
			t.Fatalf("saving a zone: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		_, page = agent.get("/account")
		if !strings.Contains(page, `name="time_zone" value="Asia/Kolkata"`) {
			t.Errorf("account page does not show the saved zone")
		}
		_, page = agent.get(fmt.Sprintf("/conversations/%d", conv))
		if !strings.Contains(page, `<time datetime="2026-03-01T07:30:00Z" data-field="mail-date" title="the mail's Date">Sun 1 Mar 2026 13:00 IST</time> · received `) {
			t.Errorf("conversation page does not show the mail's Date in IST: %s", page)
		}
		if strings.Count(page, " IST</time>") != 2 || strings.Contains(page, " UTC</time>") {
			t.Errorf("conversation page shows times outside the user's zone")
		}
	})
}

// TestRightToLeftIsolated: a right-to-left subject, name and text are
// isolated from the text around them, so "#N" stays after the subject.
func TestRightToLeftIsolated(t *testing.T) {
	w := setupWorkspace(t, "sqlite")
	conv := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{
		From:    helpdesk.Address{Name: "سلمى", Email: "salma@customer.example"},
		Subject: "مشكلة في الطلب", Text: "لم يصل الطلب بعد.",
	}).ConversationID
	agent := w.session(t, w.agent)
	_, page := agent.get(fmt.Sprintf("/conversations/%d", conv))
	for _, want := range []string{
		fmt.Sprintf(`<h1><bdi dir="auto">مشكلة في الطلب</bdi> <span class="muted">#%d</span></h1>`, conv),
		`<bdi>سلمى</bdi> &lt;salma@customer.example&gt;`,
		`<div class="mail-text" dir="auto">لم يصل الطلب بعد.</div>`,
		`<textarea name="body" form="conversation-form" rows="8" dir="auto"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("conversation page lacks %s", want)
		}
	}
	_, list := agent.get("/")
	if want := fmt.Sprintf(`<a href="/conversations/%d" dir="auto">مشكلة في الطلب</a>`, conv); !strings.Contains(list, want) {
		t.Errorf("list lacks %s", want)
	}
}
