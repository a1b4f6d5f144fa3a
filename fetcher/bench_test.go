package fetcher_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/fetcher/mailparse"
	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// BenchmarkIngest compares the fetcher's ingest rate (two-phase fetch,
// parse, store with group commit, one notification per message) with the
// raw rate of a plain go-imap v2 `UID FETCH 1:* BODY.PEEK[]` of the same
// messages from the same Dovecot, measured in the same run. Target: ingest
// >= 0.6 x raw. A third figure, the fetcher's IMAP and parse work with
// nothing stored, shows how much of the gap is the database's.
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
				var rawRate, ingestRate, unstoredRate float64
				for range b.N {
					rawRate = rawFetchRate(b, d, set.n)
					e := setupWith(b, d, teststore.Open(b, dialect), nil)
					unstoredRate = fetchParseRate(b, e, set.n)
					// An admin who wants new-conversation mail: every message
					// also enqueues a notification, as new mail does in a real
					// helpdesk (not a first import, which notifies nobody).
					if _, err := e.store.CreateUser(context.Background(), helpdesk.UserInput{
						Email: "agent@example.test", Name: "Agent", Role: "admin", Password: "long-enough-password",
					}); err != nil {
						b.Fatal(err)
					}
					sawEmptyInbox(b, e)
					start := time.Now()
					sum := e.fetch()
					ingestRate = float64(sum.New) / time.Since(start).Seconds()
					if sum.New != set.n {
						b.Fatalf("ingested %d of %d", sum.New, set.n)
					}
					if stats, err := e.store.OutboxStats(context.Background()); err != nil || stats.Pending != set.n {
						b.Fatalf("outbox %+v (%v): want one notification per message", stats, err)
					}
				}
				b.ReportMetric(ingestRate, "ingest-msgs/s")
				b.ReportMetric(rawRate, "raw-msgs/s")
				b.ReportMetric(ingestRate/rawRate, "ratio")
				b.ReportMetric(unstoredRate, "unstored-msgs/s")
				fmt.Printf("ingest %-8s %-10s ingest %8.0f msg/s  raw fetch %8.0f msg/s  ratio %.2f (target >= 0.6);"+
					"  fetch+parse, nothing stored: %8.0f msg/s, ratio %.2f\n",
					dialect, set.name, ingestRate, rawRate, ingestRate/rawRate, unstoredRate, unstoredRate/rawRate)
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

// sawEmptyInbox records the mailbox's INBOX as first seen empty, so that
// the mail in it counts as arrived since (not a quiet first import).
func sawEmptyInbox(b *testing.B, e *env) {
	b.Helper()
	ctx := context.Background()
	m, err := e.store.Mailbox(ctx, e.mailbox)
	if err != nil {
		b.Fatal(err)
	}
	s, err := fetcher.Dial(ctx, m, fetcher.Login{Password: "secret-pass"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	folder, err := s.Select("INBOX")
	if err != nil {
		b.Fatal(err)
	}
	fence, err := e.store.Fence(ctx, e.mailbox)
	if err == nil {
		err = e.store.ClaimFence(ctx, e.mailbox, fence+1)
	}
	if err == nil {
		err = e.store.FetchHandle(e.mailbox, fence+1).StartFolder(ctx, "INBOX", folder.UIDValidity, 0)
	}
	if err != nil {
		b.Fatal(err)
	}
}

// fetchParseRate runs the fetcher's own IMAP phases and parser on the INBOX
// (in batches of 500: header phase, then bodies parsed and gzipped on a
// second goroutine, as in ingest) and stores nothing: the ceiling that
// ingest could reach with a free database.
func fetchParseRate(b *testing.B, e *env, want int) float64 {
	b.Helper()
	ctx := context.Background()
	m, err := e.store.Mailbox(ctx, e.mailbox)
	if err != nil {
		b.Fatal(err)
	}
	s, err := fetcher.Dial(ctx, m, fetcher.Login{Password: "secret-pass"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Select("INBOX"); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	uids, err := s.UIDsAfter(0, nil)
	if err != nil {
		b.Fatal(err)
	}
	parsed := 0
	for len(uids) > 0 {
		batch := uids[:min(500, len(uids))]
		uids = uids[len(batch):]
		if _, err := s.Envelopes(batch); err != nil {
			b.Fatal(err)
		}
		raws := make(chan []byte, 256)
		done := make(chan int)
		go func() {
			n := 0
			for raw := range raws {
				if _, err := mailparse.Parse(raw); err == nil {
					store.CompressRaw(raw)
					n++
				}
			}
			done <- n
		}()
		err := s.Bodies(batch, func(_ uint32, raw []byte) error { raws <- raw; return nil })
		close(raws)
		parsed += <-done
		if err != nil {
			b.Fatal(err)
		}
	}
	if parsed != want {
		b.Fatalf("parsed %d of %d", parsed, want)
	}
	return float64(parsed) / time.Since(start).Seconds()
}
