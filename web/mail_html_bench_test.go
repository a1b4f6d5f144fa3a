package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// BenchmarkLargeMailHTMLView measures one view of a conversation with a
// 17 MB HTML mail (a long newsletter of styled table rows): time per view
// and megabytes sent.
//
//   - reference: the mail sanitised on this view, as every view did before
//     sanitised HTML was kept (the kept HTML is of an older sanitiser
//     version, so the view makes it again);
//
//   - kept: the limit raised so the HTML is shown, read as kept;
//
//   - limited: the default limit (2 MiB): the text and a download link.
//
//     go test ./web/ -run '^$' -bench BenchmarkLargeMailHTMLView -benchtime 1x
func BenchmarkLargeMailHTMLView(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			w := &workspace{env: setup(b, dialect, func(c *Config) { c.MailHTMLMaxBytes = 1 << 40 })}
			w.mb1 = w.mailbox(b, 1)
			html := largeNewsletter(17 << 20)
			conv := w.ingest(b, w.mb1, &helpdesk.IncomingMessage{
				From: helpdesk.Address{Email: "news@customer.example"}, Subject: "Newsletter",
				Text: "The newsletter's text part.", HTML: html,
			}).ConversationID
			d, err := w.store.Conversation(ctx, helpdesk.ViewerOf(w.admin), conv)
			if err != nil {
				b.Fatal(err)
			}
			thread := d.Threads[0].ID
			page := fmt.Sprintf("/conversations/%d", conv)
			unlimited := w.session(b, w.admin)
			limited := w.session(b, w.admin)
			limited.base = defaultLimitServer(b, w.env).URL

			view := func(b *testing.B, c *client, before func()) {
				var sent int
				for range b.N {
					if before != nil {
						b.StopTimer()
						before()
						b.StartTimer()
					}
					resp, body := c.get(page)
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("view: %d", resp.StatusCode)
					}
					sent = len(body)
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/view")
				b.ReportMetric(float64(sent)/1e6, "MB-sent")
			}
			b.Run("reference", func(b *testing.B) {
				view(b, unlimited, func() {
					stale := helpdesk.SanitizedHTML{ThreadID: thread, Policy: mailHTMLPolicy - 1}
					if err := w.store.SaveSanitizedHTML(ctx, stale); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run("kept", func(b *testing.B) {
				unlimited.get(page) // sanitises and keeps, when the reference did not run
				b.ResetTimer()
				view(b, unlimited, nil)
			})
			b.Run("limited", func(b *testing.B) { view(b, limited, nil) })
		})
	}
}

// largeNewsletter is HTML of about size bytes as newsletters are written:
// layout tables with inline styles, links and images.
func largeNewsletter(size int) string {
	const row = `<tr><td style="padding: 8px; border-bottom: 1px solid #dddddd; font-family: Arial, sans-serif; color: #333333">` +
		`<a href="https://shop.example/item?id=%d" style="color: #0055aa; font-weight: bold">Item %d</a> ` +
		`<span style="font-style: italic">in stock</span></td>` +
		`<td style="text-align: right; padding: 8px; background-color: #f5f5f5"><img src="https://cdn.shop.example/%d.png" alt="item" width="40" height="40"> %d.00 EUR</td></tr>` + "\n"
	var b strings.Builder
	b.WriteString(`<html><body><table style="width: 100%; border-collapse: collapse; table-layout: fixed">` + "\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, row, i, i, i, i)
	}
	b.WriteString("</table></body></html>")
	return b.String()
}

// defaultLimitServer is a second web server on e's database with the
// default HTML size limit.
func defaultLimitServer(b *testing.B, e *env) *httptest.Server {
	srv := New(Config{Store: e.store, Inspector: e.local.Inspector(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(ts.Close)
	return ts
}
