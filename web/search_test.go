package web

import (
	"net/url"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// TestSearchAPIAndPage: the API and the list page search the full-text
// index with accent folding, filters and highlights; a search that cannot
// run is 422 in the API and an inline message on the page that keeps the
// typed text.
func TestSearchAPIAndPage(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		m := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{
			From: helpdesk.Address{Name: "Jürgen Müller", Email: "jm@kunde.example"}, Subject: "Müller <GmbH> Rechnung", Text: "Grüße von Müller",
		}).ConversationID

		for _, q := range []string{"Müller", "Muller", "mueller", "from:mueller", "rechnung status:active"} {
			code, out, _ := w.call(t, w.adminToken, "GET", "/api/v1/conversations?q="+url.QueryEscape(q), "")
			if got := convIDs(t, out); code != 200 || len(got) != 1 || got[0] != m {
				t.Errorf("%q: %d %v, want [%d]", q, code, got, m)
			}
		}
		_, out, _ := w.call(t, w.adminToken, "GET", "/api/v1/conversations?q=muller", "")
		h, _ := out["conversations"].([]any)[0].(map[string]any)["highlight"].(map[string]any)
		if h["subject"] != "<mark>Müller</mark> &lt;GmbH&gt; Rechnung" || h["preview"] != "Grüße von <mark>Müller</mark>" {
			t.Errorf("highlight %v", h)
		}
		_, out, _ = w.call(t, w.adminToken, "GET", "/api/v1/conversations", "")
		if _, ok := out["conversations"].([]any)[0].(map[string]any)["highlight"]; ok {
			t.Error("highlight without a search")
		}

		for _, q := range []string{strings.Repeat("x", 250), "%", "?!*"} {
			code, out, _ := w.call(t, w.adminToken, "GET", "/api/v1/conversations?q="+url.QueryEscape(q), "")
			fields, _ := out["fields"].(map[string]any)
			if code != 422 || fields["q"] == nil {
				t.Errorf("API %.20q: %d %v, want 422 naming q", q, code, out)
			}
		}

		agent := w.session(t, w.agent)
		resp, body := agent.get("/?q=" + url.QueryEscape("müller"))
		if resp.StatusCode != 200 || !strings.Contains(body, "<mark>Müller</mark> &lt;GmbH&gt; Rechnung") {
			t.Errorf("page: %d, no highlighted subject", resp.StatusCode)
		}
		long := strings.Repeat("y", 250)
		resp, body = agent.get("/?q=" + long)
		if resp.StatusCode != 422 || !strings.Contains(body, `data-field-error="q"`) || !strings.Contains(body, `value="`+long+`"`) ||
			!strings.Contains(body, `data-conversation="`+itoa(m)+`"`) {
			t.Errorf("page with a long search: %d, want the list, the message and the typed text", resp.StatusCode)
		}
		resp, body = agent.get("/?q=" + url.QueryEscape("%&"))
		if resp.StatusCode != 422 || !strings.Contains(body, "type a word") {
			t.Errorf("page with punctuation only: %d", resp.StatusCode)
		}
	})
}
