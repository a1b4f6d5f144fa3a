package locks

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

func TestInspect(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		insp := b.inspector(t)
		st, err := insp.Inspect(ctx, 20)
		if err != nil || st != (leaseview.State{}) {
			t.Fatalf("idle mailbox: %+v, %v", st, err)
		}
		before := time.Now()
		lease, err := b.locker(t, Options{TTL: testTTL, Host: "h", PID: 5, Instance: "i"}).Obtain(ctx, 20, 77)
		if err != nil {
			t.Fatal(err)
		}
		st, err = insp.Inspect(ctx, 20)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Held || st.Holder == nil || st.Holder.Fence != 77 || st.Holder.Instance != lease.Holder().Instance {
			t.Fatalf("held mailbox: %+v", st)
		}
		if st.TTLLeft <= 0 || st.TTLLeft > testTTL {
			t.Fatalf("TTL left %s", st.TTLLeft)
		}
		// Redis has millisecond resolution.
		if st.LastHeartbeat.Before(before.Add(-2*time.Millisecond)) || st.LastHeartbeat.After(time.Now().Add(2*time.Millisecond)) {
			t.Fatalf("last heartbeat %v outside [%v, now]", st.LastHeartbeat, before)
		}
		lease.Release()
		if st, err := insp.Inspect(ctx, 20); err != nil || st.Held {
			t.Fatalf("released mailbox: %+v, %v", st, err)
		}
	})
}

func TestInspectorOnlyReads(t *testing.T) {
	// Invariant 2: what the web gets has no way to take, renew, release or
	// clean up a lock; the concrete types must not grow such methods either.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	readers := []string{"Fleet", "Inspect", "InspectMany"} // sorted, as reflect lists methods
	for _, insp := range []leaseview.Inspector{leaseview.NewRedisInspector(c), NewLocal(Options{}).Inspector()} {
		typ := reflect.TypeOf(insp)
		var methods []string
		for m := range typ.Methods() {
			methods = append(methods, m.Name)
		}
		if !slices.Equal(methods, readers) {
			t.Errorf("%s has methods %v; want only the readers %v", typ, methods, readers)
		}
		if _, ok := insp.(Locker); ok {
			t.Errorf("%s is also a Locker", typ)
		}
	}
}

func TestRedisInspectorIsReadOnly(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	admin := srv.Client(t)
	ctx := context.Background()
	viewer := viewerClient(t, srv, admin)

	// A long TTL keeps the lease's own renewals out of the observed window.
	lease, err := NewRedis(admin, Options{TTL: time.Minute}).Obtain(ctx, 1, 9)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()

	// The user really cannot write: had the inspector tried, it would fail.
	for _, args := range [][]any{{"SET", leaseview.Key(1), "x"}, {"DEL", leaseview.Key(1)}, {"PEXPIRE", leaseview.Key(1), 1}, {"EVAL", "return 1", 0}} {
		if err := viewer.Do(ctx, args...).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Fatalf("viewer %v: %v, want NOPERM", args[0], err)
		}
	}

	insp := leaseview.NewRedisInspector(viewer)
	if _, err := insp.Inspect(ctx, 1); err != nil { // also sets up the connection
		t.Fatal(err)
	}

	mon := startMonitor(t, srv.Addr())
	const reads = 1000
	for i := range reads {
		id := int64(1 + i%2) // mailbox 1 held, mailbox 2 idle
		st, err := insp.Inspect(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Held != (id == 1) {
			t.Fatalf("mailbox %d: %+v", id, st)
		}
	}
	const marker = "inspector-test-end"
	if err := admin.Echo(ctx, marker).Err(); err != nil {
		t.Fatal(err)
	}
	cmds := mon.until(t, marker)
	counts := map[string]int{}
	for _, c := range cmds {
		counts[c]++
	}
	if len(counts) != 2 || counts["get"] != reads || counts["pttl"] != reads {
		t.Fatalf("commands seen during %d reads: %v; want only %d get and %d pttl", reads, counts, reads, reads)
	}
	if lease.Err() != nil {
		t.Fatalf("lease disturbed: %v", lease.Err())
	}
}

// viewerClient connects as a user made with the ACL line documented on
// NewRedisInspector: it may only GET, PTTL and SCAN.
func viewerClient(t *testing.T, srv *testserver.Redis, admin *redis.Client) *redis.Client {
	t.Helper()
	if err := admin.Do(context.Background(), "ACL", "SETUSER", "viewer", "on", ">pw", "-@all", "+get", "+pttl", "+scan", "~*").Err(); err != nil {
		t.Fatal(err)
	}
	viewer := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "viewer", Password: "pw", DisableIdentity: true})
	t.Cleanup(func() { _ = viewer.Close() })
	return viewer
}

// monitor is a raw MONITOR connection.
type monitor struct {
	conn net.Conn
	r    *bufio.Reader
}

func startMonitor(t *testing.T, addr string) *monitor {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	m := &monitor{conn: conn, r: bufio.NewReader(conn)}
	if _, err := fmt.Fprint(conn, "MONITOR\r\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := m.r.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("MONITOR: %q, %v", line, err)
	}
	return m
}

// until returns the lowercased command names seen before an ECHO of marker.
// Lines look like: +1700000000.123456 [0 127.0.0.1:5555] "get" "key"
func (m *monitor) until(t *testing.T, marker string) []string {
	t.Helper()
	var cmds []string
	for {
		line, err := m.r.ReadString('\n')
		if err != nil {
			t.Fatalf("monitor: %v", err)
		}
		_, rest, ok := strings.Cut(line, "] \"")
		if !ok {
			t.Fatalf("monitor line %q", line)
		}
		name, args, _ := strings.Cut(rest, "\"")
		name = strings.ToLower(name)
		if name == "echo" && strings.Contains(args, marker) {
			return cmds
		}
		cmds = append(cmds, name)
	}
}

func TestInspectManyAgreesWithInspect(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		// A long TTL: no renewal changes the keys between the two reads.
		l := b.locker(t, Options{TTL: time.Minute, Host: "h", PID: 5, Instance: "i"})
		ids := []int64{31, 32, 33, 34, 35}
		var instance string
		for _, id := range []int64{31, 33, 34} {
			lease, err := l.Obtain(ctx, id, 100+id)
			if err != nil {
				t.Fatal(err)
			}
			defer lease.Release()
			instance = lease.Holder().Instance
		}
		b.steal(t, 34) // held by a value that is not ours
		insp := b.inspector(t)
		start := time.Now()
		many, err := insp.InspectMany(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(many) != len(ids) {
			t.Fatalf("InspectMany gave %d states for %d ids", len(many), len(ids))
		}
		for i, id := range ids {
			one, err := insp.Inspect(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			between := time.Since(start) + 2*time.Millisecond // Redis has millisecond resolution
			got := many[i]
			// The local store keeps its short test TTL, so a renewal may
			// come between the two reads; it moves the heartbeat forward.
			renewedBetween := one.LastHeartbeat.After(got.LastHeartbeat.Add(between))
			if got.Held != one.Held || !reflect.DeepEqual(got.Holder, one.Holder) ||
				!renewedBetween && ((got.TTLLeft-one.TTLLeft).Abs() > between || got.LastHeartbeat.Sub(one.LastHeartbeat).Abs() > between) {
				t.Errorf("mailbox %d: InspectMany %+v, Inspect %+v", id, got, one)
			}
			ours := id == 31 || id == 33
			if got.Held != (ours || id == 34) {
				t.Errorf("mailbox %d: %+v, want held %v", id, got, ours || id == 34)
			}
			if ours && (got.Holder == nil || got.Holder.Instance != instance || got.Holder.Fence != 100+id) {
				t.Errorf("mailbox %d: holder %+v, want instance %s, fence %d", id, got.Holder, instance, 100+id)
			}
			if id == 34 && got.Holder != nil && got.Holder.Instance == instance {
				t.Errorf("mailbox 34: holder %+v, want the thief's", got.Holder)
			}
		}
		if states, err := insp.InspectMany(ctx, nil); err != nil || len(states) != 0 {
			t.Fatalf("InspectMany(nil) = %v, %v", states, err)
		}
	})
}

func TestFree(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		l := b.locker(t, Options{TTL: testTTL})
		first, err := l.Obtain(ctx, 41, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer first.Release()
		third, err := l.Obtain(ctx, 43, 1)
		if err != nil {
			t.Fatal(err)
		}
		b.steal(t, 44) // someone else's lock counts as held too
		free, err := b.locker(t, Options{TTL: testTTL}).Free(ctx, []int64{41, 42, 43, 44})
		if err != nil {
			t.Fatal(err)
		}
		if want := []bool{false, true, false, false}; !slices.Equal(free, want) {
			t.Fatalf("Free = %v, want %v", free, want)
		}
		third.Release()
		free, err = l.Free(ctx, []int64{43})
		if err != nil || !slices.Equal(free, []bool{true}) {
			t.Fatalf("Free after Release = %v, %v", free, err)
		}
		if free, err := l.Free(ctx, nil); err != nil || len(free) != 0 {
			t.Fatalf("Free(nil) = %v, %v", free, err)
		}
	})
}
