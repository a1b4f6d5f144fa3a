package locks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/locks/leaseview"
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

// commandStats reads how often the server has run each command, from INFO
// commandstats: what Redis counts, commands run by scripts included. The
// INFO that reads it counts from the next reading on.
func commandStats(t testing.TB, c *redis.Client) map[string]int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls := make(map[string]int64)
	for line := range strings.Lines(info) {
		stat, ok := strings.CutPrefix(line, "cmdstat_")
		name, rest, ok2 := strings.Cut(stat, ":calls=")
		if !ok || !ok2 {
			continue
		}
		n, err := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		calls[name] = n
	}
	return calls
}

// commandsSince is how many commands of each kind the server ran since
// before, and "total" how many in all.
func commandsSince(t testing.TB, c *redis.Client, before map[string]int64) map[string]int64 {
	t.Helper()
	diff := make(map[string]int64)
	for name, n := range commandStats(t, c) {
		diff[name] = n - before[name]
		diff["total"] += n - before[name]
	}
	return diff
}

// On one Redis server, the Locker renews all its leases in one round trip
// per tick, with one script call that Redis counts as 1 EVALSHA, 1 MGET and
// 1 PEXPIRE per lease: a little over one command per lease per renewal.
func TestRedisRenewalIsOneRoundTripPerTick(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	admin := srv.Client(t)
	client := srv.Client(t)
	pipes := countPipelines(client)
	// Measure the steady state: the first renewal on a fresh server finds
	// the script missing (NOSCRIPT) and loads it, one more round trip.
	if err := renewManyScript.Load(context.Background(), admin).Err(); err != nil {
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
	before, start := commandStats(t, admin), time.Now()
	p1 := pipes.waitFor(t, p0+ticks, (ticks+3)*interval)
	took, ran := time.Since(start), commandsSince(t, admin, before)

	rounds := p1 - p0
	if ran["evalsha"] != rounds {
		t.Errorf("%d script calls in %d round trips, want one per round trip", ran["evalsha"], rounds)
	}
	if ran["pexpire"] != leases*rounds {
		t.Errorf("%d PEXPIREs in %d round trips for %d leases, want one per lease per round trip", ran["pexpire"], rounds, leases)
	}
	// All the server counted: per tick the call, its MGET and one PEXPIRE
	// per lease; the test's own INFO reading takes one more.
	perTick := int64(2)
	if limit := rounds*(leases+perTick) + 1; ran["total"] > limit {
		t.Errorf("the server counted %d commands (%v) in %d round trips for %d leases, want <= %d", ran["total"], ran, rounds, leases, limit)
	}
	t.Logf("%d leases, %d round trips: %.3f commands counted per lease per renewal", leases, rounds, float64(ran["total"])/float64(rounds*leases))
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

// More leases than one script call takes (keysPerCall) are renewed in
// several calls of one round trip, each lease getting its own answer; a
// key that is gone or someone else's is reported and left alone. Free reads
// as many keys the same way. Both paths: one call for many keys, and one
// command per key.
func TestRedisManyLeasesInOneRoundTrip(t *testing.T) {
	t.Parallel()
	for _, perKey := range []bool{false, true} {
		t.Run(fmt.Sprintf("perKey=%v", perKey), func(t *testing.T) {
			t.Parallel()
			testManyLeases(t, perKey)
		})
	}
}

func testManyLeases(t *testing.T, perKey bool) {
	ctx := context.Background()
	srv := testserver.StartRedis(t)
	admin := srv.Client(t)
	client := srv.Client(t)
	pipes := countPipelines(client)
	r := newRedis(client, Options{TTL: time.Hour}, perKey)

	// Leases as acquire makes them, written in one go; the test calls
	// renew itself, so no Lease and no loop is involved.
	const n = 2*keysPerCall + 100
	leases := make([]leaseBackend, n)
	ids := make([]int64, n+1)
	pipe := admin.Pipeline()
	for i := range leases {
		ids[i] = int64(i + 1)
		l := &redisLease{key: leaseview.Key(ids[i]), value: fmt.Sprintf("token%d{\"fence\":1}", i)}
		pipe.Set(ctx, l.key, l.value, time.Minute)
		leases[i] = l
	}
	ids[n] = n + 1 // never held
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	stolen := []int{5, keysPerCall, n - 1} // in the first, second and last call
	dropped := keysPerCall + 1
	for _, i := range stolen {
		if err := admin.Set(ctx, leaseview.Key(ids[i]), "thief", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := admin.Del(ctx, leaseview.Key(ids[dropped])).Err(); err != nil {
		t.Fatal(err)
	}

	p0, before := pipes.n.Load(), commandStats(t, admin)
	errs := r.renew(ctx, leases)
	ran := commandsSince(t, admin, before)
	if len(errs) != n {
		t.Fatalf("%d answers for %d leases", len(errs), n)
	}
	for i, err := range errs {
		lost := slices.Contains(stolen, i) || i == dropped
		if lost && !errors.Is(err, errNotHeld) || !lost && err != nil {
			t.Fatalf("lease %d: %v (lost: %v)", i, err, lost)
		}
	}
	// The script was not loaded yet: NOSCRIPT, load, again.
	if rounds := pipes.n.Load() - p0; rounds != 2 {
		t.Errorf("%d round trips, want 2 (the first one answered NOSCRIPT)", rounds)
	}
	if calls := int64((n + keysPerCall - 1) / keysPerCall); !perKey && (ran["evalsha"] != 2*calls || ran["mget"] != calls) {
		t.Errorf("commands %v, want %d EVALSHA (twice %d calls) and %d MGET", ran, 2*calls, calls, calls)
	}
	if ran["pexpire"] != int64(n-len(stolen)-1) {
		t.Errorf("%d PEXPIREs, want one per lease still held (%d)", ran["pexpire"], n-len(stolen)-1)
	}
	for i, id := range []int64{ids[0], ids[stolen[1]], ids[n-2]} {
		ttl, err := admin.PTTL(ctx, leaseview.Key(id)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if renewed := ttl > time.Minute; renewed != (i != 1) {
			t.Errorf("key %d: TTL %s after renewal (the thief's lock must keep its own)", id, ttl)
		}
	}

	p0, before = pipes.n.Load(), commandStats(t, admin)
	free, err := r.Free(ctx, ids)
	ran = commandsSince(t, admin, before)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range free {
		if want := i == dropped || i == n; f != want {
			t.Fatalf("Free[%d] = %v, want %v", i, f, want)
		}
	}
	if len(free) != len(ids) {
		t.Fatalf("%d answers for %d ids", len(free), len(ids))
	}
	if rounds := pipes.n.Load() - p0; rounds != 1 {
		t.Errorf("Free took %d round trips, want 1", rounds)
	}
	// One MGET per keysPerCall keys (plus the test's own INFO reading).
	if calls := int64((len(ids) + keysPerCall - 1) / keysPerCall); !perKey && (ran["mget"] != calls || ran["total"] != calls+1) {
		t.Errorf("Free ran %v, want %d MGET and nothing else", ran, calls)
	}
}

// After SCRIPT FLUSH the next renewal reloads the script and succeeds.
func TestRedisRenewalAfterScriptFlush(t *testing.T) {
	t.Parallel()
	for _, perKey := range []bool{false, true} {
		t.Run(fmt.Sprintf("perKey=%v", perKey), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := testserver.StartRedis(t)
			admin := srv.Client(t)
			r := newRedis(srv.Client(t), Options{TTL: time.Hour}, perKey)
			lease, _, _, err := r.acquire(ctx, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			renew := func() error { return r.renew(ctx, []leaseBackend{lease})[0] }
			if err := renew(); err != nil {
				t.Fatal(err)
			}
			if err := admin.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			before := commandStats(t, admin)
			if err := renew(); err != nil {
				t.Fatalf("renewal after SCRIPT FLUSH: %v", err)
			}
			if ran := commandsSince(t, admin, before); ran["script|load"] != 1 || ran["pexpire"] != 1 {
				t.Errorf("renewal after SCRIPT FLUSH ran %v, want one SCRIPT LOAD and one PEXPIRE", ran)
			}
		})
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
