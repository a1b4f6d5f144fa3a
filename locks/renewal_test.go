package locks

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/internal/testserver"
)

// pipelineCounter is a go-redis hook that counts the pipelines (round
// trips of several commands) a client sends.
type pipelineCounter struct {
	n    atomic.Int64
	sent chan struct{} // a value after each pipeline, coalesced
}

func countPipelines(c *redis.Client) *pipelineCounter {
	p := &pipelineCounter{sent: make(chan struct{}, 1)}
	c.AddHook(p)
	return p
}

func (p *pipelineCounter) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (p *pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (p *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		p.n.Add(1)
		select {
		case p.sent <- struct{}{}:
		default:
		}
		return err
	}
}

// waitFor waits until at least n pipelines have completed and returns the count.
func (p *pipelineCounter) waitFor(t testing.TB, n int64, limit time.Duration) int64 {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		if got := p.n.Load(); got >= n {
			return got
		}
		select {
		case <-p.sent:
		case <-timer.C:
			t.Fatalf("%d pipelines after %s, want %d", p.n.Load(), limit, n)
		}
	}
}

// commandCalls reads how often the server has run a command, from INFO
// commandstats (commands run by scripts count too).
func commandCalls(t testing.TB, c *redis.Client, name string) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(info, "cmdstat_"+name+":calls=")
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The Redis locker renews all its leases in one round trip per tick, with
// one EVALSHA per lease: 200 leases cost 200 commands and 1 round trip per
// interval, not 200 round trips.
func TestRedisRenewalIsOneRoundTripPerTick(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	admin := srv.Client(t)
	client := srv.Client(t)
	pipes := countPipelines(client)
	// Measure the steady state: the first renewal on a fresh server finds
	// the script missing (NOSCRIPT) and loads it, one more round trip.
	if err := refreshScript.Load(context.Background(), admin).Err(); err != nil {
		t.Fatal(err)
	}
	const leases = 200
	l := NewRedis(client, Options{TTL: 1500 * time.Millisecond})
	interval := l.renewal.timing.interval
	held := make([]*Lease, leases)
	for i := range held {
		lease, err := l.Obtain(context.Background(), int64(i+1), 1)
		if err != nil {
			t.Fatal(err)
		}
		defer lease.Release()
		held[i] = lease
	}

	// Count from just after a round trip (none is then half in the window)
	// to just after the fourth one since.
	const ticks = 4
	p0 := pipes.waitFor(t, pipes.n.Load()+1, 3*interval)
	e0, start := commandCalls(t, admin, "evalsha"), time.Now()
	p1 := pipes.waitFor(t, p0+ticks, (ticks+3)*interval)
	took, e1 := time.Since(start), commandCalls(t, admin, "evalsha")

	rounds, renewals := p1-p0, e1-e0
	if renewals != leases*rounds {
		t.Errorf("%d renewal commands in %d round trips for %d leases, want one per lease per round trip", renewals, rounds, leases)
	}
	// Round trips come one per tick, not faster.
	if took < (ticks-1)*interval {
		t.Errorf("%d round trips in %s, more than one per tick of %s", rounds, took, interval)
	}
	for _, lease := range held {
		if err := lease.Err(); err != nil {
			t.Fatalf("lease %d: %v", lease.MailboxID(), err)
		}
	}
}

// A lease obtained between two ticks of its Locker's loop joins the next
// tick and is renewed in time.
func TestLeaseObtainedBetweenTicks(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		l := b.locker(t, Options{TTL: testTTL})
		first, err := l.Obtain(ctx, 51, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer first.Release()
		stillHeld(t, first.Context(), testTTL/2) // half-way between ticks (interval TTL/3)
		second, err := l.Obtain(ctx, 52, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer second.Release()
		stillHeld(t, second.Context(), 3*testTTL)
		if first.Err() != nil || second.Err() != nil {
			t.Fatalf("lost: %v, %v", first.Err(), second.Err())
		}
	})
}
