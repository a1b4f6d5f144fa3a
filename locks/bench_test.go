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

func BenchmarkRefresh(b *testing.B) {
	c := benchClient(b)
	lb, _, _, err := NewRedis(c, Options{}).acquire(context.Background(), 1, 1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if err := lb.refresh(ctx); err != nil {
			b.Fatal(err)
		}
	}
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
