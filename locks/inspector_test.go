package locks

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"reflect"
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

func TestInspectorHasOnlyInspect(t *testing.T) {
	// Invariant 2: what the web gets has no way to take, renew, release or
	// clean up a lock; the concrete types must not grow such methods either.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, insp := range []leaseview.Inspector{leaseview.NewRedisInspector(c), NewLocal(Options{}).Inspector()} {
		typ := reflect.TypeOf(insp)
		if typ.NumMethod() != 1 || typ.Method(0).Name != "Inspect" {
			t.Errorf("%s has %d methods; want Inspect only", typ, typ.NumMethod())
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
	// The ACL line documented on NewRedisInspector.
	if err := admin.Do(ctx, "ACL", "SETUSER", "viewer", "on", ">pw", "-@all", "+get", "+pttl", "+scan", "~*").Err(); err != nil {
		t.Fatal(err)
	}
	viewer := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "viewer", Password: "pw", DisableIdentity: true})
	t.Cleanup(func() { _ = viewer.Close() })

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
