package web

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// BenchmarkEventFanOut: 200 clients hold GET /api/v1/events open while
// agents add notes at 20 a second; for every note it measures the time
// from its commit to the arrival of its thread.created at each client and
// reports the p95 over all clients and notes (target ≤ 200 ms) beside the
// time of the commit itself (the AddNote call, whose transaction writes
// the events) measured in the same run.
//
//	go test ./web/ -run '^$' -bench BenchmarkEventFanOut -benchtime 1x
func BenchmarkEventFanOut(b *testing.B) {
	const clients, notesPerIteration, rate = 200, 50, 20
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			w := &workspace{env: setup(b, dialect)}
			ctx := context.Background()
			w.mb1 = w.mailbox(b, 1)
			if err := w.store.SetUserMailboxes(ctx, w.agent.ID, []int64{w.mb1}); err != nil {
				b.Fatal(err)
			}
			w.c1 = w.ingest(b, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "alice@customer.example"}, Subject: "Busy", Text: "Hi"}).ConversationID

			var mu sync.Mutex
			arrived := map[int64][]time.Time{} // thread id -> arrival at each client
			var readers sync.WaitGroup
			for range clients {
				events := openStream(b, w.ts.URL, "/api/v1/events", bearer(w.agentToken))
				readers.Add(1)
				go func() {
					defer readers.Done()
					for ev := range events {
						if ev.Name == helpdesk.EventThreadCreated && ev.Data.ThreadID != nil {
							at := time.Now()
							mu.Lock()
							arrived[*ev.Data.ThreadID] = append(arrived[*ev.Data.ThreadID], at)
							mu.Unlock()
						}
					}
				}()
			}

			committed := map[int64]time.Time{}
			var commits []time.Duration
			viewer := helpdesk.ViewerOf(w.agent)
			tick := time.NewTicker(time.Second / rate)
			defer tick.Stop()
			b.ResetTimer()
			for range notesPerIteration * b.N {
				<-tick.C
				t0 := time.Now()
				n, err := w.store.AddNote(ctx, viewer, w.c1, "Still busy", 0)
				if err != nil {
					b.Fatal(err)
				}
				done := time.Now()
				committed[n.ThreadID] = done
				commits = append(commits, done.Sub(t0))
			}
			deadline := time.Now().Add(30 * time.Second)
			for !allArrived(&mu, arrived, committed, clients) {
				if time.Now().After(deadline) {
					b.Fatal("not every client got every event within 30 s")
				}
				<-tick.C
			}
			b.StopTimer()

			var delivery []time.Duration
			for thread, at := range committed {
				for _, a := range arrived[thread] {
					delivery = append(delivery, a.Sub(at))
				}
			}
			b.ReportMetric(percentileMillis(delivery, 0.50), "delivery-p50-ms")
			b.ReportMetric(percentileMillis(delivery, 0.95), "delivery-p95-ms")
			b.ReportMetric(percentileMillis(delivery, 1), "delivery-max-ms")
			b.ReportMetric(200, "delivery-p95-target-ms")
			b.ReportMetric(percentileMillis(commits, 0.50), "ref-commit-p50-ms")
			b.ReportMetric(percentileMillis(commits, 0.95), "ref-commit-p95-ms")
			b.ReportMetric(clients, "clients")
		})
	}
}

func allArrived(mu *sync.Mutex, arrived map[int64][]time.Time, committed map[int64]time.Time, clients int) bool {
	mu.Lock()
	defer mu.Unlock()
	for thread := range committed {
		if len(arrived[thread]) < clients {
			return false
		}
	}
	return true
}

func percentileMillis(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(int(p*float64(len(s))), len(s)-1)
	return float64(s[i].Microseconds()) / 1000
}
