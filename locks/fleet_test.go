package locks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// fleetTTL gives a member TTL of 1 s and a heartbeat every 200 ms: short
// enough for expiry tests, long enough that a loaded machine does not
// miss heartbeats.
const fleetTTL = 2 * time.Second

func startFleet(t *testing.T, f *Fleet) *Fleet {
	t.Helper()
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f
}

// waitMembers waits until f sees exactly want and returns when it did.
func waitMembers(t *testing.T, f *Fleet, limit time.Duration, want ...string) time.Time {
	t.Helper()
	slices.Sort(want)
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for !slices.Equal(f.Members(), want) {
		select {
		case <-f.Changed():
		case <-timer.C:
			t.Fatalf("%s sees %v after %s, want %v", f.Self(), f.Members(), limit, want)
		}
	}
	return time.Now()
}

func instances(members []leaseview.Member) []string {
	var out []string
	for _, m := range members {
		out = append(out, m.Instance)
	}
	return out
}

// fleetView reads the fleet as the web does; it fails the test on error.
func fleetView(t *testing.T, insp leaseview.Inspector) []leaseview.Member {
	t.Helper()
	members, err := insp.Fleet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return members
}

func TestRedisFleetJoinAndLeave(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	admin := srv.Client(t)
	insp := leaseview.NewRedisInspector(viewerClient(t, srv, admin))

	before := time.Now()
	a := startFleet(t, NewRedisFleet(srv.Client(t), Options{TTL: fleetTTL, Host: "alpha", PID: 11, Instance: "inst-a"}))
	if got := a.Members(); !slices.Equal(got, []string{"inst-a"}) {
		t.Fatalf("alone, a sees %v", got)
	}
	b := NewRedisFleet(srv.Client(t), Options{TTL: fleetTTL, Host: "beta", PID: 22, Instance: "inst-b"})
	b.SetOwned(7)
	startFleet(t, b)
	// Start's first heartbeat has returned the members: b knows a at once,
	// a learns of b at its next heartbeat.
	if got := b.Members(); !slices.Equal(got, []string{"inst-a", "inst-b"}) {
		t.Fatalf("b sees %v after Start", got)
	}
	waitMembers(t, a, 5*time.Second, "inst-a", "inst-b")

	// A viewer that may only GET and PTTL reads the fleet, sorted.
	view := fleetView(t, insp)
	if got := instances(view); !slices.Equal(got, []string{"inst-a", "inst-b"}) {
		t.Fatalf("viewer sees %v", got)
	}
	vb := view[1]
	if vb.Host != "beta" || vb.PID != 22 || vb.Owned != 7 || vb.TTLMillis != 1000 || vb.StartedAt.Before(before.Add(-time.Millisecond)) {
		t.Errorf("viewer's b: %+v", vb)
	}
	for _, m := range view {
		// Heartbeats come every 200 ms; shown on this machine's clock.
		if age := time.Since(m.LastHeartbeat); age < -2*time.Millisecond || age > time.Duration(m.TTLMillis)*time.Millisecond {
			t.Errorf("%s: last heartbeat %s ago", m.Instance, age)
		}
	}

	// Stop leaves at once: gone for readers before any heartbeat, and for
	// a at its next one, well before b's heartbeat would have expired.
	b.Stop()
	if got := instances(fleetView(t, insp)); !slices.Equal(got, []string{"inst-a"}) {
		t.Fatalf("viewer sees %v right after b.Stop", got)
	}
	stopped := time.Now()
	if took := waitMembers(t, a, 5*time.Second, "inst-a").Sub(stopped); took >= time.Second {
		t.Errorf("a noticed b leaving after %s, no sooner than b's member TTL", took)
	}

	// The last member leaving leaves no key behind.
	a.Stop()
	if n, err := admin.Exists(context.Background(), leaseview.FleetKey).Result(); err != nil || n != 0 {
		t.Fatalf("fleet key after the last member left: exists %d, %v", n, err)
	}
	if view := fleetView(t, insp); len(view) != 0 {
		t.Fatalf("viewer sees %v in an empty fleet", view)
	}
}

func TestRedisFleetDropsSilentMember(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	insp := leaseview.NewRedisInspector(srv.Client(t))
	a := startFleet(t, NewRedisFleet(srv.Client(t), Options{TTL: fleetTTL, Instance: "inst-a"}))
	b := startFleet(t, NewRedisFleet(srv.Client(t), Options{TTL: fleetTTL, Instance: "inst-b"}))
	waitMembers(t, a, 5*time.Second, "inst-a", "inst-b")

	// b hangs (or is killed): no more heartbeats, and no leave.
	b.stopBeating()
	var lastBeat time.Time
	for _, m := range fleetView(t, insp) {
		if m.Instance == "inst-b" {
			lastBeat = m.LastHeartbeat
		}
	}
	if lastBeat.IsZero() {
		t.Fatal("b vanished at once without leaving")
	}
	memberTTL := time.Duration(b.self.TTLMillis) * time.Millisecond
	dropped := waitMembers(t, a, 10*memberTTL, "inst-a")
	// Not before b's heartbeat is a member TTL old (Redis keeps ms).
	if age := dropped.Sub(lastBeat); age < memberTTL-2*time.Millisecond {
		t.Errorf("b dropped %s after its last heartbeat, before its member TTL %s", age, memberTTL)
	}
	if got := instances(fleetView(t, insp)); !slices.Equal(got, []string{"inst-a"}) {
		t.Fatalf("viewer sees %v after b was dropped", got)
	}
}

func TestRedisFleetViewerDropsStaleMembers(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	admin := srv.Client(t)
	insp := leaseview.NewRedisInspector(viewerClient(t, srv, admin))
	// A long-lived member keeps the key alive; a short-lived one goes
	// silent. With nobody heartbeating, only the reader can drop it.
	long := startFleet(t, NewRedisFleet(srv.Client(t), Options{TTL: time.Minute, Instance: "long"}))
	short := startFleet(t, NewRedisFleet(srv.Client(t), Options{TTL: fleetTTL, Instance: "short"}))
	long.stopBeating()
	short.stopBeating()
	if got := instances(fleetView(t, insp)); !slices.Equal(got, []string{"long", "short"}) {
		t.Fatalf("viewer sees %v", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for slices.Contains(instances(fleetView(t, insp)), "short") {
		if time.Now().After(deadline) {
			t.Fatal("viewer still shows the silent member after 10 s")
		}
		time.Sleep(10 * time.Millisecond) // polling Redis, the condition has no signal
	}
	raw, err := admin.Get(context.Background(), leaseview.FleetKey).Result()
	if err != nil || !strings.Contains(raw, `"short"`) {
		t.Fatalf("fleet key %q, %v: want the stale member still stored, so that the reader dropped it", raw, err)
	}
}

func TestRedisFleetJudgesOnServerClock(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	admin := srv.Client(t)
	ctx := context.Background()
	now, err := admin.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	serverMs := now.UnixMilli()
	// Two members whose own clocks are off: one far behind but heard from
	// just now by the server's clock, one ahead but silent for its TTL.
	members := fmt.Sprintf(`{
		"behind": {"instance": "behind", "last_heartbeat": "1999-01-01T00:00:00Z", "heartbeat_ms": %d, "ttl_ms": 60000},
		"ahead": {"instance": "ahead", "last_heartbeat": %q, "heartbeat_ms": %d, "ttl_ms": 60000}}`,
		serverMs, time.Now().Add(time.Hour).Format(time.RFC3339Nano), serverMs-60_001)
	if err := admin.Set(ctx, leaseview.FleetKey, members, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	a := startFleet(t, NewRedisFleet(srv.Client(t), Options{TTL: fleetTTL, Instance: "a"}))
	if got := a.Members(); !slices.Equal(got, []string{"a", "behind"}) {
		t.Fatalf("a sees %v, want the member heard from by the server's clock only", got)
	}
}

func TestRedisFleetKeepsForeignValueReadable(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	admin := srv.Client(t)
	if err := admin.Set(context.Background(), leaseview.FleetKey, "garbage", 0).Err(); err != nil {
		t.Fatal(err)
	}
	insp := leaseview.NewRedisInspector(admin)
	if _, err := insp.Fleet(context.Background()); err == nil {
		t.Fatal("Fleet of a foreign value: no error")
	}
	// A heartbeat replaces what it cannot read rather than failing forever.
	startFleet(t, NewRedisFleet(srv.Client(t), Options{TTL: fleetTTL, Instance: "a"}))
	if got := instances(fleetView(t, insp)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("viewer sees %v", got)
	}
}

func TestLocalFleet(t *testing.T) {
	t.Parallel()
	l := NewLocal(Options{TTL: fleetTTL, Instance: "solo"})
	f := l.Fleet()
	if f.Self() != "solo" {
		t.Fatalf("Self = %q", f.Self())
	}
	startFleet(t, f)
	if got := f.Members(); !slices.Equal(got, []string{"solo"}) {
		t.Fatalf("Members = %v", got)
	}
	if got := instances(fleetView(t, l.Inspector())); !slices.Equal(got, []string{"solo"}) {
		t.Fatalf("viewer sees %v", got)
	}
	f.Stop()
	if got := fleetView(t, l.Inspector()); len(got) != 0 {
		t.Fatalf("viewer sees %v after Stop", got)
	}
}
