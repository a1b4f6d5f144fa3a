package fetcher_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// BenchmarkIngest compares the fetcher's ingest rate (two-phase fetch,
// parse, store with group commit, one notification per message) with the raw rate of a plain go-imap
// v2 `UID FETCH 1:* BODY.PEEK[]` of the same messages from the same Dovecot,
// measured in the same run. Target: ingest >= 0.6 x raw.
func BenchmarkIngest(b *testing.B) {
	for _, set := range []struct {
		name    string
		n, size int
	}{{"10000x4KB", 10000, 4 << 10}, {"200x1MB", 200, 1 << 20}} {
		d := testserver.StartDovecot(b)
		d.AddUser(b, "support", "secret-pass")
		raws, _ := teststore.Mails("msg", 0, set.n, set.size)
		d.AppendMany(b, "support", "INBOX", raws)
		for _, dialect := range teststore.Dialects {
			b.Run(dialect+"/"+set.name, func(b *testing.B) {
				var rawRate, ingestRate float64
				for range b.N {
					rawRate = rawFetchRate(b, d, set.n)
					e := setupWith(b, d, teststore.Open(b, dialect), nil)
					// An admin who wants new-conversation mail: every message
					// also enqueues a notification, as in a real helpdesk.
					if _, err := e.store.CreateUser(context.Background(), helpdesk.UserInput{
						Email: "agent@example.test", Name: "Agent", Role: "admin", Password: "long-enough-password",
					}); err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					sum := e.fetch()
					ingestRate = float64(sum.New) / time.Since(start).Seconds()
					if sum.New != set.n {
						b.Fatalf("ingested %d of %d", sum.New, set.n)
					}
				}
				b.ReportMetric(ingestRate, "ingest-msgs/s")
				b.ReportMetric(rawRate, "raw-msgs/s")
				b.ReportMetric(ingestRate/rawRate, "ratio")
				fmt.Printf("ingest %-8s %-10s ingest %8.0f msg/s  raw fetch %8.0f msg/s  ratio %.2f (target >= 0.6)\n",
					dialect, set.name, ingestRate, rawRate, ingestRate/rawRate)
			})
		}
	}
}

// rawFetchRate streams every message body of the INBOX with go-imap v2.
func rawFetchRate(b *testing.B, d *testserver.Dovecot, want int) float64 {
	b.Helper()
	c, err := imapclient.DialInsecure(d.Addr(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("support", "secret-pass").Wait(); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		b.Fatal(err)
	}
	var all imap.UIDSet
	all.AddRange(1, 0)
	start := time.Now()
	cmd := c.Fetch(all, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	n := 0
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		for item := msg.Next(); item != nil; item = msg.Next() {
			if body, ok := item.(imapclient.FetchItemDataBodySection); ok {
				if _, err := io.ReadAll(body.Literal); err != nil {
					b.Fatal(err)
				}
				n++
			}
		}
	}
	if err := cmd.Close(); err != nil {
		b.Fatal(err)
	}
	if n != want {
		b.Fatalf("raw fetch got %d of %d", n, want)
	}
	return float64(n) / time.Since(start).Seconds()
}
