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

// BenchmarkRenewal renews 1,000 leases the way the Locker's loop does on
// one Redis server (one script call), beside the reference of the
// one-command-per-key path (what a Cluster client takes, and what a single
// server took before) on the same server in the same run: the time of one
// renewal of all, and the commands the server counts (INFO commandstats,
// all commands) per lease per minute at TTL 30 s.
func BenchmarkRenewal(b *testing.B) {
	const leases = 1000
	srv := testserver.StartRedis(b)
	admin := srv.Client(b)
	client := srv.Client(b)
	pipes := countPipelines(client)
	// A long TTL keeps the loop's own ticks out of the measurement.
	batched := NewRedis(client, Options{TTL: time.Hour})
	perKey := newRedis(client, Options{TTL: time.Hour}, true)
	ctx := context.Background()
	backends := make([]leaseBackend, leases)
	for i := range backends {
		lb, _, _, err := batched.acquire(ctx, int64(i+1), 1)
		if err != nil {
			b.Fatal(err)
		}
		backends[i] = lb
	}
	renewAll := func(r *Redis) {
		for _, err := range r.renew(ctx, backends) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	// measure renews n times and returns the time of one renewal and the
	// commands counted per lease per renewal.
	measure := func(r *Redis, n int) (time.Duration, float64) {
		before, start := commandStats(b, admin), time.Now()
		for range n {
			renewAll(r)
		}
		took := time.Since(start) / time.Duration(n)
		return took, float64(commandsSince(b, admin, before)["total"]) / float64(n*leases)
	}
	renewAll(batched) // load the scripts, warm the connection
	renewAll(perKey)
	p0 := pipes.n.Load()
	b.ResetTimer()
	took, perLease := measure(batched, b.N)
	b.StopTimer()
	rounds := float64(pipes.n.Load()-p0) / float64(b.N)
	refTook, refPerLease := measure(perKey, b.N)

	// At TTL 30 s a lease is renewed every 10 s: 6 times a minute.
	b.ReportMetric(perLease*6, "cmds/lease/min@30s")
	b.ReportMetric(refPerLease*6, "cmds/lease/min@30s-per-key")
	b.ReportMetric(rounds, "roundtrips/renewal")
	b.ReportMetric(float64(took.Microseconds())/1000, "ms/renewal-1000")
	b.ReportMetric(float64(refTook.Microseconds())/1000, "ms/renewal-1000-per-key")
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
