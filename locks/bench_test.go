package locks

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

func benchClient(b *testing.B) *redis.Client {
	return testserver.StartRedis(b).Client(b)
}

func obtainRelease(b *testing.B, l Locker, n int) {
	ctx := context.Background()
	for i := range n {
		lease, err := l.Obtain(ctx, 1, int64(i))
		if err != nil {
			b.Fatal(err)
		}
		lease.Release()
	}
}

func rawSetNX(b *testing.B, c *redis.Client, n int) {
	ctx := context.Background()
	key := leaseview.Key(2)
	for range n {
		ok, err := c.SetNX(ctx, key, "token", 30*time.Second).Result()
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		if err := c.Del(ctx, key).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkObtainRelease(b *testing.B) {
	l := NewRedis(benchClient(b), Options{})
	b.ResetTimer()
	obtainRelease(b, l, b.N)
}

func BenchmarkRawSetNX(b *testing.B) {
	c := benchClient(b)
	b.ResetTimer()
	rawSetNX(b, c, b.N)
}

// BenchmarkRenewal renews 1,000 leases the way the Locker's loop does, in
// one pipelined round trip, and reports its time beside the reference of
// renewing them one round trip each (as when every lease had its own
// heartbeat), plus the server's command counts per lease.
func BenchmarkRenewal(b *testing.B) {
	const leases = 1000
	srv := testserver.StartRedis(b)
	admin := srv.Client(b)
	client := srv.Client(b)
	pipes := countPipelines(client)
	// A long TTL keeps the loop's own ticks out of the measurement.
	r := NewRedis(client, Options{TTL: time.Hour})
	ctx := context.Background()
	backends := make([]leaseBackend, leases)
	for i := range backends {
		lb, _, _, err := r.acquire(ctx, int64(i+1), 1)
		if err != nil {
			b.Fatal(err)
		}
		backends[i] = lb
	}
	renewAll := func() {
		for _, err := range r.renew(ctx, backends) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	renewAll() // loads the script, warms the connection
	evalsha, get, pexpire := commandCalls(b, admin, "evalsha"), commandCalls(b, admin, "get"), commandCalls(b, admin, "pexpire")
	p0 := pipes.n.Load()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		renewAll()
	}
	batch := time.Since(start) / time.Duration(b.N)
	b.StopTimer()
	perLease := func(name string, before int64) float64 {
		return float64(commandCalls(b, admin, name)-before) / float64(b.N*leases)
	}
	scripts := perLease("evalsha", evalsha)
	b.ReportMetric(float64(pipes.n.Load()-p0)/float64(b.N), "roundtrips/renewal")
	b.ReportMetric(scripts, "evalsha/lease")
	// At TTL 30 s a lease is renewed every 10 s.
	b.ReportMetric(scripts*6, "evalsha/lease/min@30s")
	// What INFO commandstats sums up: the script's GET and PEXPIRE count too.
	b.ReportMetric(scripts+perLease("get", get)+perLease("pexpire", pexpire), "cmdstat/lease")
	start = time.Now()
	for _, lb := range backends {
		if err := r.renew(ctx, []leaseBackend{lb})[0]; err != nil {
			b.Fatal(err)
		}
	}
	oneByOne := time.Since(start)
	b.ReportMetric(float64(batch.Microseconds())/1000, "ms/pipelined-1000")
	b.ReportMetric(float64(oneByOne.Microseconds())/1000, "ms/one-by-one-1000")
}

// BenchmarkObtainReleaseVsRaw times both on one server in one run and
// reports obtain+release as a multiple of raw SET NX PX + DEL (target <= 3).
func BenchmarkObtainReleaseVsRaw(b *testing.B) {
	c := benchClient(b)
	l := NewRedis(c, Options{})
	obtainRelease(b, l, 100) // warm up: script load, connections
	rawSetNX(b, c, 100)
	b.ResetTimer()
	start := time.Now()
	obtainRelease(b, l, b.N)
	ours := time.Since(start)
	start = time.Now()
	rawSetNX(b, c, b.N)
	raw := time.Since(start)
	b.ReportMetric(float64(ours)/float64(raw), "x-raw")
}
