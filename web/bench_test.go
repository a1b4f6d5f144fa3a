package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/locks"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// BenchmarkStatusLatency measures the status page and the status API at a
// steady 200 requests per second with 100 mailboxes while one lease is
// held on a real Redis, read through the GET/PTTL-only user. Requests are
// sent on schedule (open loop): a slow answer does not delay the next
// request, so queueing shows in the percentiles. Target: p99 ≤ 20 ms,
// reported beside the figures as p99-target-ms.
//
// Each iteration is a run of pacedRequests requests (10 s at 200/s), so
// `make bench` (-benchtime 1x) measures a full run:
//
//	go test ./web/ -run '^$' -bench BenchmarkStatusLatency -benchtime 1x
func BenchmarkStatusLatency(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			rsrv := testserver.StartRedis(b)
			e := setup(b, dialect, func(c *Config) {
				c.Inspector = leaseview.NewRedisInspector(redisViewer(b, rsrv))
				c.StatusCacheTTL = 0 // the default
			})
			ctx := context.Background()
			var ids []int64
			for i := range 100 {
				id := e.mailbox(b, i)
				ids = append(ids, id)
				e.fetched(b, id, nil)
			}
			fetcher := locks.NewRedis(rsrv.Client(b), locks.Options{TTL: 30 * time.Second})
			fence, _ := e.store.Fence(ctx, ids[0])
			lease, err := fetcher.Obtain(ctx, ids[0], fence+1)
			if err != nil {
				b.Fatal(err)
			}
			defer lease.Release()
			session := e.session(b, e.admin)
			for _, target := range []struct {
				name string
				req  func(i int) *http.Request
			}{
				{"page", func(int) *http.Request {
					req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/admin/status", nil)
					for _, ck := range session.http.Jar.Cookies(req.URL) {
						req.AddCookie(ck)
					}
					return req
				}},
				{"api", func(i int) *http.Request {
					req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/mailboxes/%d/status", e.ts.URL, ids[i%len(ids)]), nil)
					req.Header.Set("Authorization", "Bearer "+e.adminToken)
					return req
				}},
			} {
				b.Run(target.name, func(b *testing.B) {
					pace(b, 200, target.req)
				})
			}
			// What the cache saves: one uncached reading of all 100
			// mailboxes (4 queries, 100 lock reads), one after another.
			b.Run("reading", func(b *testing.B) {
				lat := make([]time.Duration, 0, 50*b.N)
				for range 50 * b.N {
					t0 := time.Now()
					if _, err := e.srv.readStatus(ctx); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
			if lease.Err() != nil {
				b.Fatalf("lease disturbed: %v", lease.Err())
			}
		})
	}
}

// pacedRequests is the number of requests of one benchmark iteration.
const pacedRequests = 2000

// pace sends pacedRequests requests per iteration at rate per second and
// reports p50/p99 latency over all of them.
func pace(b *testing.B, rate int, newReq func(i int) *http.Request) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	// Warm up: connections, prepared plans, page cache.
	for i := range 20 {
		resp, err := client.Do(newReq(i))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	n := pacedRequests * b.N
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	var failed sync.Once
	interval := time.Second / time.Duration(rate)
	b.ResetTimer()
	start := time.Now()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for i := range n {
		if i > 0 {
			<-ticker.C
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			resp, err := client.Do(newReq(i))
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			lat[i] = time.Since(t0)
			if err != nil {
				failed.Do(func() { b.Errorf("request %d: %v", i, err) })
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
	b.ReportMetric(20, "p99-target-ms")
}
