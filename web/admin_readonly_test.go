package web

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/locks"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// TestThousandStatusLoadsWriteNothing: 1,000 loads of the status page and
// the status API while a fetcher holds a lease on a real Redis. The web's
// inspector connects as a user limited to GET, PTTL and SCAN; MONITOR and
// INFO commandstats show that it sent nothing else, and the lease stays
// held, renewed by its owner, undisturbed (invariant 2).
func TestThousandStatusLoadsWriteNothing(t *testing.T) {
	t.Parallel()
	rsrv := testserver.StartRedis(t)
	ctx := context.Background()
	admin := rsrv.Client(t)
	viewer := redisViewer(t, rsrv)
	e := setup(t, "sqlite", func(c *Config) { c.Inspector = leaseview.NewRedisInspector(viewer) })
	ids := []int64{e.mailbox(t, 1), e.mailbox(t, 2), e.mailbox(t, 3)}
	held := ids[0]
	fence := e.fetched(t, held, nil) + 1
	// A short TTL, so that the lease renews itself many times meanwhile.
	fetcher := locks.NewRedis(rsrv.Client(t), locks.Options{TTL: 3 * time.Second, Host: "fetch-host", PID: 77, Instance: "f1"})
	lease, err := fetcher.Obtain(ctx, held, fence)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	before, err := admin.Get(ctx, leaseview.Key(held)).Result()
	if err != nil {
		t.Fatal(err)
	}
	// MONITOR first, then the reset: until() counts from the reset, so
	// MONITOR and INFO commandstats see the same commands.
	mon := startRedisMonitor(t, rsrv.Addr())
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	c := e.session(t, e.admin)
	const loads = 1000
	for i := range loads {
		var resp *http.Response
		var body string
		if i%2 == 0 {
			resp, body = c.get("/admin/status")
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-field="holder-host">fetch-host<`) {
				t.Fatalf("load %d: %d", i, resp.StatusCode)
			}
		} else {
			resp, body = e.api(t, e.adminToken, http.MethodGet, fmt.Sprintf("/api/v1/mailboxes/%d/status", ids[i%3]))
			if resp.StatusCode != http.StatusOK || (ids[i%3] == held) != strings.Contains(body, `"held":true`) {
				t.Fatalf("load %d: %d %s", i, resp.StatusCode, body)
			}
		}
	}
	const marker = "web-readonly-test-end"
	if err := admin.Echo(ctx, marker).Err(); err != nil {
		t.Fatal(err)
	}
	byClient := mon.until(t, marker)

	// What the web's connections (user viewer) sent: GET and PTTL, and the
	// handshake of new pool connections (HELLO/AUTH), nothing else.
	viewerCmds := map[string]int{}
	otherCmds := map[string]int{}
	for _, c := range byClient {
		if c.viewer {
			if c.cmd == "hello" || c.cmd == "auth" {
				continue
			}
			viewerCmds[c.cmd]++
		} else {
			otherCmds[c.cmd]++
		}
	}
	// 500 pages × (3 mailboxes + the fleet's key) + 500 API calls.
	wantReads := loads/2*(len(ids)+1) + loads/2
	if len(viewerCmds) != 2 || viewerCmds["get"] != wantReads || viewerCmds["pttl"] != wantReads {
		t.Fatalf("the web's Redis commands: %v; want only %d get and %d pttl", viewerCmds, wantReads, wantReads)
	}
	// Everything else was the lease renewing itself: its script (EVALSHA,
	// or EVAL on first use, SCRIPT LOAD after a NOSCRIPT on a fresh
	// server), the MGET/PEXPIRE that MONITOR shows it running inside
	// Redis, and the handshake of its connection.
	for cmd := range otherCmds {
		switch cmd {
		case "evalsha", "eval", "script", "mget", "pexpire", "hello", "auth", "client":
		default:
			t.Errorf("unexpected command %q from another client: %v", cmd, otherCmds)
		}
	}

	// INFO commandstats agrees: no write command ran at all except the
	// owner's renewal scripts (their PEXPIREs are the ones MONITOR saw).
	stats, err := admin.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(stats, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		switch strings.TrimPrefix(name, "cmdstat_") {
		case "get", "pttl", "evalsha", "eval", "script|load", "mget", "echo", "monitor", "info", "config|resetstat", "ping", "hello", "auth", "client|setinfo", "client|list":
		case "pexpire":
			if n := commandCalls(stats, "pexpire"); n != int64(otherCmds["pexpire"]) {
				t.Errorf("%d PEXPIREs ran, %d of them by the lease's renewal", n, otherCmds["pexpire"])
			}
		default:
			t.Errorf("command ran during the loads: %s %s", name, rest)
		}
	}
	if n := commandCalls(stats, "get"); n < int64(wantReads) {
		t.Errorf("commandstats counts %d GETs, want at least %d", n, wantReads)
	}

	// The lease is still held by its owner, with the same holder value,
	// and has renewed itself throughout.
	if lease.Err() != nil {
		t.Fatalf("lease lost: %v", lease.Err())
	}
	after, err := admin.Get(ctx, leaseview.Key(held)).Result()
	if err != nil || after != before {
		t.Fatalf("lock value changed: %q -> %q (%v)", before, after, err)
	}
	if otherCmds["evalsha"]+otherCmds["eval"]+otherCmds["pexpire"] == 0 {
		t.Log("no renewal happened during the loads (they were faster than a third of the TTL)")
	}
}

// redisViewer is a Redis user that can only read lock keys and the fleet,
// and count sign-in attempts under helpdesk:login:*, made with the
// README's ACL line: the web's inspector connects as it, so a write
// attempt on a lock would fail with NOPERM.
func redisViewer(t testing.TB, srv *testserver.Redis) *redis.Client {
	t.Helper()
	admin := srv.Client(t)
	if err := admin.Do(context.Background(), "ACL", "SETUSER", "viewer", "on", ">viewer-pw", "-@all", "+get", "+pttl",
		"~helpdesk:fetchlock:*", "~helpdesk:{fleet}:*",
		"(~helpdesk:login:* +evalsha +eval +incr +decr +get +set +pttl +pexpire)").Err(); err != nil {
		t.Fatal(err)
	}
	viewer := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "viewer", Password: "viewer-pw", DisableIdentity: true})
	t.Cleanup(func() { _ = viewer.Close() })
	return viewer
}

func commandCalls(stats, cmd string) int64 {
	for _, line := range strings.Split(stats, "\n") {
		if strings.HasPrefix(line, "cmdstat_"+cmd+":calls=") {
			v := strings.TrimPrefix(line, "cmdstat_"+cmd+":calls=")
			v, _, _ = strings.Cut(v, ",")
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// redisMonitor reads a MONITOR stream: each command with whether the
// viewer user's connection sent it.
type redisMonitor struct {
	r       *bufio.Reader
	viewers map[string]bool // client addresses of the viewer user
	addr    string
}

type monitored struct {
	cmd    string
	viewer bool
}

func startRedisMonitor(t testing.TB, addr string) *redisMonitor {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "+OK" {
		t.Fatalf("MONITOR: %q %v", line, err)
	}
	return &redisMonitor{r: r, addr: addr}
}

// until reads commands up to an ECHO of marker, from the last CONFIG
// RESETSTAT on if there was one. The viewer's connections
// are found with CLIENT LIST afterwards (they stay open in the pool).
func (m *redisMonitor) until(t testing.TB, marker string) []monitored {
	t.Helper()
	type raw struct{ client, cmd string }
	var lines []raw
	for {
		line, err := m.r.ReadString('\n')
		if err != nil {
			t.Fatalf("MONITOR read: %v", err)
		}
		// +1700000000.123456 [0 127.0.0.1:50000] "get" "key"
		_, rest, ok := strings.Cut(line, "[")
		if !ok {
			continue
		}
		client, rest, _ := strings.Cut(rest, "]")
		fields := strings.Fields(client)
		quoted := strings.Fields(rest)
		if len(fields) < 2 || len(quoted) == 0 {
			continue
		}
		cmd := strings.ToLower(strings.Trim(quoted[0], `"`))
		if cmd == "echo" && strings.Contains(rest, marker) {
			break
		}
		if cmd == "config" && strings.Contains(strings.ToLower(rest), "resetstat") {
			lines = nil // count from the reset of INFO commandstats
			continue
		}
		lines = append(lines, raw{fields[1], cmd})
	}
	viewers := viewerClients(t, m.addr)
	out := make([]monitored, len(lines))
	for i, l := range lines {
		out[i] = monitored{cmd: l.cmd, viewer: viewers[l.client]}
	}
	return out
}

// viewerClients lists the addresses of connections logged in as viewer.
func viewerClients(t testing.TB, addr string) map[string]bool {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer c.Close()
	list, err := c.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(list, "\n") {
		var a, user string
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "addr":
				a = v
			case "user":
				user = v
			}
		}
		if user == "viewer" {
			out[a] = true
		}
	}
	if len(out) == 0 {
		t.Fatal("no viewer connection in CLIENT LIST")
	}
	return out
}
