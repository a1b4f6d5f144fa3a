package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// The fleet at its target size (issue 14): 1,000 mailboxes on three fetch
// instances against one Dovecot, with the default lock TTL (30 s). Each
// figure is printed beside its target and, where one makes sense, beside
// a reference measured in the same run:
//
//   - time from the first instance's start until all mailboxes are
//     watched (the sum of the watched gauges; target <= 90 s);
//   - new-mail latency, APPEND confirmed to message stored, for one mail
//     to each of 100 random mailboxes at once (targets p95 <= 2 s, max <=
//     5 s), beside Dovecot's own IDLE notification to a bare client;
//   - Redis commands per mailbox per minute over an idle minute (INFO
//     commandstats; target <= 10), beside an idle Redis with no instance;
//   - RSS of each instance (target <= 200 MB per 1,000 mailboxes);
//   - database transactions per second over the idle minute
//     (pg_stat_database; every query outside a transaction is one).
//
// It runs once whatever b.N is: a run takes minutes and loads the machine.
func BenchmarkFleet(b *testing.B) {
	const n, instances, sample = 1000, 3, 100
	const idleWindow, baselineWindow = time.Minute, 10 * time.Second
	d := testserver.StartDovecotFleet(b, testserver.DovecotFleetOptions{Connections: n + 50})
	f := newFleet(b, "", d, n, 60)
	const refUser, refPass = "idle-reference", "pw-idle-reference"
	d.AddUser(b, refUser, refPass)

	redisIdle := redisCallsPerMinute(b, f.admin, baselineWindow)

	started := time.Now()
	for range instances {
		f.startInstance()
	}
	watchAll := f.waitAllWatched(started, 5*time.Minute)
	f.waitSettled(2*time.Minute, false, "three instances over 1,000 mailboxes")
	holders, err := f.holders()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("all %d mailboxes watched %.1f s after the first instance started (target <= 90 s); shares %s; %s",
		n, watchAll.Seconds(), f.spread(holders), machineLoad())

	ref := sortedDurations(idleNotifyLatency(b, d, refUser, refPass, 20))
	picked := rand.New(rand.NewPCG(14, 1000)).Perm(n)[:sample]
	var ids []int64
	for _, i := range picked {
		ids = append(ids, f.mailboxes[i])
	}
	lat := sortedDurations(f.requireStored(f.deliver(ids), time.Minute, "new mail"))
	p50, p95, worst := percentile(lat, 50), percentile(lat, 95), lat[len(lat)-1]
	b.Logf("new-mail latency over %d mailboxes at once: p50 %s, p95 %s, max %s (targets p95 <= 2 s, max <= 5 s); "+
		"Dovecot's IDLE notification to a bare client: p50 %s, max %s; %s",
		sample, ms(p50), ms(p95), ms(worst), ms(percentile(ref, 50)), ms(ref[len(ref)-1]), machineLoad())

	// The idle minute: nothing arrives, the test reads nothing in between.
	f.ledger.halt()
	calls0, xacts0, t0 := redisCalls(b, f.admin), f.dbTransactions(), time.Now()
	time.Sleep(idleWindow) // the measured window itself, not a wait for something
	calls1, xacts1, elapsed := redisCalls(b, f.admin), f.dbTransactions(), time.Since(t0)
	minutes := elapsed.Minutes()
	perMailbox := float64(calls1.total()-calls0.total()-1) / n / minutes // -1: the test's first INFO
	xactRate := float64(xacts1-xacts0-1) / elapsed.Seconds()             // -1: the test's first read
	b.Logf("Redis while idle: %.2f commands per mailbox per minute (target <= 10; INFO commandstats, which counts the commands "+
		"scripts run too: %s); an idle Redis without instances: %.1f commands per minute",
		perMailbox, calls1.minus(calls0).top(6), redisIdle)
	b.Logf("database while idle: %.1f transactions per second; %s", xactRate, machineLoad())

	var rssSum, rssMax int64
	var rssEach []string
	for _, in := range f.live() {
		rss, err := rssBytes(in.pid())
		if err != nil {
			b.Fatal(err)
		}
		rssSum += rss
		rssMax = max(rssMax, rss)
		rssEach = append(rssEach, fmt.Sprintf("%s %d MB", in.name, rss>>20))
	}
	b.Logf("RSS per instance: %s; %d MB for all %d mailboxes (target <= 200 MB per 1,000 mailboxes)",
		strings.Join(rssEach, ", "), rssSum>>20, n)

	b.ReportMetric(watchAll.Seconds(), "watch-all-s")
	b.ReportMetric(float64(p50.Milliseconds()), "new-mail-p50-ms")
	b.ReportMetric(float64(p95.Milliseconds()), "new-mail-p95-ms")
	b.ReportMetric(float64(worst.Milliseconds()), "new-mail-max-ms")
	b.ReportMetric(float64(percentile(ref, 50).Milliseconds()), "idle-ref-p50-ms")
	b.ReportMetric(perMailbox, "redis-cmd/mailbox/min")
	b.ReportMetric(redisIdle, "redis-idle-ref-cmd/min")
	b.ReportMetric(float64(rssMax>>20), "rss-max-MB")
	b.ReportMetric(float64(rssSum>>20)*1000/n, "rss-MB/1000-mailboxes")
	b.ReportMetric(xactRate, "db-xact/s")
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

// waitAllWatched waits until the live instances' watched gauges add up to
// every mailbox and returns the time since started; it fails the benchmark
// after timeout, saying how far it got.
func (f *fleet) waitAllWatched(started time.Time, timeout time.Duration) time.Duration {
	f.t.Helper()
	for {
		g, err := gaugeSum(f.live())
		if errors.Is(err, errNoGauges) {
			f.t.Fatal(err)
		}
		if err == nil && g.watched == len(f.mailboxes) {
			return time.Since(started)
		}
		if time.Since(started) > timeout {
			f.t.Fatalf("not all mailboxes watched %s after the start: %+v, %v", timeout, g, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// idleNotifyLatency measures Dovecot's own new-mail notification, the floor
// of the fetch's latency: a bare go-imap client IDLEs on user's INBOX while
// mail is appended to it one at a time; each sample is the time from the
// APPEND's OK to the client hearing of the message.
func idleNotifyLatency(b *testing.B, d *testserver.Dovecot, user, pass string, samples int) []time.Duration {
	b.Helper()
	type notice struct {
		count uint32
		at    time.Time
	}
	notices := make(chan notice, 4*samples)
	c, err := imapclient.DialInsecure(d.Addr(), &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(m *imapclient.UnilateralDataMailbox) {
				if m.NumMessages != nil {
					notices <- notice{*m.NumMessages, time.Now()}
				}
			},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		b.Fatal(err)
	}
	defer idle.Close()
	var out []time.Duration
	for i := range samples {
		raw, _ := teststore.Mail("reference", i, 300)
		appended := d.AppendEach(b, "INBOX", map[string][]byte{user: raw})[user]
		for heard := false; !heard; {
			select {
			case nt := <-notices:
				if nt.count == uint32(i+1) {
					out, heard = append(out, nt.at.Sub(appended)), true
				}
			case <-time.After(time.Minute):
				b.Fatalf("the bare IDLE client heard nothing of message %d for a minute", i+1)
			}
		}
	}
	return out
}

// commandCalls are Redis's calls by command (INFO commandstats).
type commandCalls map[string]int64

func (c commandCalls) total() int64 {
	var sum int64
	for _, n := range c {
		sum += n
	}
	return sum
}

func (c commandCalls) minus(before commandCalls) commandCalls {
	out := commandCalls{}
	for cmd, n := range c {
		if d := n - before[cmd]; d > 0 {
			out[cmd] = d
		}
	}
	return out
}

// top describes the k most called commands: "evalsha 1200, get 30".
func (c commandCalls) top(k int) string {
	type kv struct {
		cmd string
		n   int64
	}
	var all []kv
	for cmd, n := range c {
		all = append(all, kv{cmd, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	var parts []string
	for _, e := range all[:min(k, len(all))] {
		parts = append(parts, fmt.Sprintf("%s %d", e.cmd, e.n))
	}
	return strings.Join(parts, ", ")
}

// redisCalls reads INFO commandstats.
func redisCalls(b *testing.B, c *redis.Client) commandCalls {
	b.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	out := commandCalls{}
	for _, line := range strings.Split(info, "\n") {
		// cmdstat_get:calls=12,usec=34,usec_per_call=2.83,...
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		cmd, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		for _, field := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					b.Fatalf("INFO commandstats: %q", line)
				}
				out[cmd] = n
			}
		}
	}
	return out
}

// redisCallsPerMinute measures the commands Redis serves over window while
// nobody but the measurement uses it, per minute.
func redisCallsPerMinute(b *testing.B, c *redis.Client, window time.Duration) float64 {
	b.Helper()
	before, t0 := redisCalls(b, c), time.Now()
	time.Sleep(window) // the measured window
	after := redisCalls(b, c)
	return float64(after.total()-before.total()-1) / time.Since(t0).Minutes() // -1: the first INFO
}

// dbTransactions is the number of transactions the test database has
// committed or rolled back so far (pg_stat_database).
func (f *fleet) dbTransactions() int64 {
	f.t.Helper()
	var n int64
	err := f.db.QueryRow(`SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}
