package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
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
					pace(b, 200, pacedRequests, 20, target.req)
				})
			}
			// What the cache saves: uncached readings of all 100 mailboxes
			// (a fixed number of queries, the leases in one round trip, the fleet
			// in another), one after another.
			b.Run("reading", func(b *testing.B) {
				l := serialLatency(b, 50*b.N, func() error { _, err := e.srv.readStatus(ctx); return err })
				b.ReportMetric(l.p50, "p50-ms")
				b.ReportMetric(l.p99, "p99-ms")
			})
			if lease.Err() != nil {
				b.Fatalf("lease disturbed: %v", lease.Err())
			}
		})
	}
}

// pacedRequests is the number of requests of one iteration of
// BenchmarkStatusLatency.
const pacedRequests = 2000

// pace sends perIteration requests per iteration at rate per second and
// reports p50/p99 latency over all of them beside the p99 target.
func pace(b *testing.B, rate, perIteration int, p99TargetMillis float64, newReq func(i int) *http.Request) {
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
	n := perIteration * b.N
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
	b.ReportMetric(p99TargetMillis, "p99-target-ms")
}

// BenchmarkStatusAtFleetSize measures the status page with 1,000
// mailboxes, each with fetch state and runs (10 failing), 950 of them
// held on a real Redis by a fleet of three instances (each taking the
// mailboxes it prefers), read through the GET/PTTL-only user, at a steady
// 20 requests per second (open loop, as pace): unfiltered (page 1,
// problems first) and filtered. Target: p99 ≤ 50 ms. Then the API's list
// of the 1,000 mailboxes, call after call. Beside each, from the same
// run: the reading behind the page (every lease in one InspectMany, the
// fleet, the database reads), taken one after another without load, and
// the bare InspectMany of 1,000 leases.
//
//	go test ./web/ -run '^$' -bench BenchmarkStatusAtFleetSize -benchtime 1x
func BenchmarkStatusAtFleetSize(b *testing.B) {
	const (
		mailboxes = 1000
		held      = 950
		rate      = 20
		requests  = 600 // 30 s at 20/s per iteration
	)
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			rsrv := testserver.StartRedis(b)
			e := setup(b, dialect, func(c *Config) {
				c.Inspector = leaseview.NewRedisInspector(redisViewer(b, rsrv))
				c.StatusCacheTTL = 0 // the default
			})
			ctx := context.Background()
			ids := make([]int64, mailboxes)
			for i := range ids {
				ids[i] = e.mailbox(b, i)
				var runErr error
				if i%100 == 7 {
					runErr = fmt.Errorf("imap: login: NO [AUTHENTICATIONFAILED] Authentication failed")
				}
				e.fetched(b, ids[i], runErr)
			}
			fleet := startBenchFleet(b, rsrv, e, ids[:held])
			session := e.session(b, e.admin)
			page := func(query string) func(int) *http.Request {
				return func(int) *http.Request {
					req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/admin/status"+query, nil)
					for _, ck := range session.http.Jar.Cookies(req.URL) {
						req.AddCookie(ck)
					}
					return req
				}
			}
			// The page must show what it is measured for.
			if resp, body := session.get("/admin/status"); resp.StatusCode != http.StatusOK ||
				!strings.Contains(body, `data-count="fleet">(3 live)<`) || !strings.Contains(body, fmt.Sprintf(`data-count="held">(%d)<`, held)) {
				b.Fatalf("status page: %d\n%s", resp.StatusCode, body)
			}

			reading := serialLatency(b, 50, func() error { _, err := e.srv.readStatus(ctx); return err })
			inspect := serialLatency(b, 200, func() error { _, err := e.srv.cfg.Inspector.InspectMany(ctx, ids); return err })
			references := func(b *testing.B) {
				b.ReportMetric(reading.p50, "ref-reading-p50-ms")
				b.ReportMetric(reading.p99, "ref-reading-p99-ms")
				b.ReportMetric(inspect.p50, "ref-inspectmany-p50-ms")
			}
			for _, target := range []struct {
				name string
				req  func(i int) *http.Request
			}{
				{"page", page("")},
				{"page-filtered", page("?q=support+99&state=held&page=1")},
			} {
				b.Run(target.name, func(b *testing.B) {
					pace(b, rate, requests, 50, target.req)
					references(b)
				})
			}
			// The API's list of all 1,000 mailboxes (no lock reads, two
			// queries), one call after another: what one call costs.
			b.Run("api-mailboxes", func(b *testing.B) {
				client := e.anonymous(b)
				l := serialLatency(b, 50*b.N, func() error {
					req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/api/v1/mailboxes", nil)
					req.Header.Set("Authorization", "Bearer "+e.adminToken)
					if resp, _ := client.do(req); resp.StatusCode != http.StatusOK {
						return fmt.Errorf("status %d", resp.StatusCode)
					}
					return nil
				})
				b.ReportMetric(l.p50, "p50-ms")
				b.ReportMetric(l.p99, "p99-ms")
				references(b)
			})
			for _, l := range fleet.leases {
				if l.Err() != nil {
					b.Fatalf("lease of mailbox %d disturbed: %v", l.MailboxID(), l.Err())
				}
			}
		})
	}
}

// benchFleet is three fetch instances on one Redis: each announced in
// the fleet and holding the leases of the mailboxes it prefers.
type benchFleet struct {
	leases []*locks.Lease
}

func startBenchFleet(b *testing.B, rsrv *testserver.Redis, e *env, ids []int64) *benchFleet {
	b.Helper()
	ctx := context.Background()
	names := []string{"fetch-a", "fetch-b", "fetch-c"}
	byName := map[string][]int64{}
	for _, id := range ids {
		p := locks.Preferred(id, names)
		byName[p] = append(byName[p], id)
	}
	f := &benchFleet{}
	for i, name := range names {
		opts := locks.Options{TTL: 30 * time.Second, Host: fmt.Sprintf("fetch-host-%d", i), PID: 1000 + i, Instance: name}
		client := rsrv.Client(b)
		locker := locks.NewRedis(client, opts)
		for _, id := range byName[name] {
			fence, err := e.store.Fence(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			lease, err := locker.Obtain(ctx, id, fence+1)
			if err != nil {
				b.Fatal(err)
			}
			f.leases = append(f.leases, lease)
		}
		member := locks.NewRedisFleet(client, opts)
		member.SetOwned(len(byName[name]))
		if err := member.Start(ctx); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(member.Stop)
	}
	b.Cleanup(func() {
		for _, l := range f.leases {
			l.Release()
		}
	})
	return f
}

// latency is a p50 and p99 in milliseconds.
type latency struct{ p50, p99 float64 }

// serialLatency runs op n times, one after another, and returns its p50
// and p99.
func serialLatency(b *testing.B, n int, op func() error) latency {
	b.Helper()
	lat := make([]time.Duration, n)
	for i := range lat {
		t0 := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(t0)
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return latency{p50: ms(lat[n/2]), p99: ms(lat[min(n-1, n*99/100)])}
}
