package notifier

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// BenchmarkOutbox measures mails per second from a full outbox to a local
// SMTP sink (claim, compose, send, mark sent), and beside it the sink's raw
// accept rate in the same run: plain go-smtp clients, as many as the
// notifier's workers, sending the same composed mails over kept-open
// connections. 10,000 mails: with 2,000 the run lasted well under a second
// and the first claim and the last marks, fixed costs of some 60 ms, swung
// the figure more than the sending did.
func BenchmarkOutbox(b *testing.B) {
	const mails, workers = 10000, 4
	for _, dialect := range teststore.Dialects {
		b.Run(dialect, func(b *testing.B) {
			for range b.N {
				ctx := context.Background()
				s := teststore.Open(b, dialect)
				if _, err := s.CreateMailbox(ctx, helpdesk.MailboxInput{Name: "Support", Email: "help@alpha.example",
					IMAPHost: "127.0.0.1", IMAPPort: 143, IMAPSecurity: "none", IMAPUser: "u", IMAPPassword: "p"}); err != nil {
					b.Fatal(err)
				}
				for i := range mails {
					if err := s.EnqueueTestEmail(ctx, fmt.Sprintf("r%d@example.net", i), "bench"); err != nil {
						b.Fatal(err)
					}
				}
				rows, err := s.OutboxByKind(ctx, "test", mails)
				if err != nil {
					b.Fatal(err)
				}
				composed := make([][]byte, len(rows))
				for i, r := range rows {
					if composed[i], err = Compose(r); err != nil {
						b.Fatal(err)
					}
				}

				// Raw: the sink's accept rate.
				rawSink := testserver.StartSMTP(b)
				rawStart := time.Now()
				var wg sync.WaitGroup
				for w := range workers {
					wg.Go(func() {
						c, err := smtp.Dial(rawSink.Addr())
						if err != nil {
							b.Error(err)
							return
						}
						defer c.Close()
						for i := w; i < len(composed); i += workers {
							if err := c.SendMail(rows[i].From, rows[i].To, bytes.NewReader(composed[i])); err != nil {
								b.Error(err)
								return
							}
						}
						c.Quit()
					})
				}
				wg.Wait()
				rawRate := float64(mails) / time.Since(rawStart).Seconds()

				// The outbox, through the notifier.
				sink := testserver.StartSMTP(b)
				svc := New(s, Config{SMTPURL: sink.URL(), Instance: "bench", Workers: workers,
					PollEvery: 20 * time.Millisecond, Logger: discardLogger()})
				begin := time.Now()
				if err := svc.Start(ctx); err != nil {
					b.Fatal(err)
				}
				sink.WaitMessages(b, mails, 5*time.Minute)
				waitSettled(b, s)
				rate := float64(mails) / time.Since(begin).Seconds()
				svc.Stop()
				if total, distinct := tally(sink.Messages()); total != mails || distinct != mails {
					b.Fatalf("total %d distinct %d, want %d", total, distinct, mails)
				}
				b.ReportMetric(rate, "mails/s")
				b.ReportMetric(rawRate, "raw-mails/s")
				b.ReportMetric(rate/rawRate, "of-raw")
				b.Logf("%s: outbox %.0f mails/s, raw sink %.0f mails/s (%d mails, %d connections)", dialect, rate, rawRate, mails, workers)
			}
		})
	}
}
