package fetcher_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
	"github.com/helpdesk/helpdesk/locks"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// fleet is several fetch services in this process, as on several
// machines: each has its own Redis client, Locker and fleet membership.
type fleet struct {
	t     *testing.T
	redis *testserver.Redis
	store *store.Store
	ttl   time.Duration
	insp  leaseview.Inspector
	ids   []int64
}

type instance struct {
	name string
	svc  *fetcher.Service
}

func (fl *fleet) start() *instance {
	fl.t.Helper()
	client := fl.redis.Client(fl.t)
	opts := locks.Options{TTL: fl.ttl, Instance: locks.NewInstanceID()}
	f := fetcher.New(fl.store, fetcher.Config{Holder: "test/" + opts.Instance})
	svc := fetcher.NewService(f, locks.NewRedis(client, opts), leaseview.NewRedisInspector(client),
		fetcher.ServiceConfig{Fleet: locks.NewRedisFleet(client, opts), LockTTL: fl.ttl})
	if err := svc.Start(context.Background()); err != nil {
		fl.t.Fatal(err)
	}
	fl.t.Cleanup(svc.Stop)
	return &instance{name: opts.Instance, svc: svc}
}

// holders reads who holds each mailbox, in one round trip ("" for nobody).
func (fl *fleet) holders() []string {
	fl.t.Helper()
	sts, err := fl.insp.InspectMany(context.Background(), fl.ids)
	if err != nil {
		fl.t.Fatal(err)
	}
	out := make([]string, len(sts))
	for i, st := range sts {
		if st.Held && st.Holder != nil {
			out[i] = st.Holder.Instance
		}
	}
	return out
}

// waitShares waits until each mailbox is held by its preferred instance
// among live and every one of them is watched, and returns how long until
// all were held and until all were watched.
func (fl *fleet) waitShares(live []*instance, timeout time.Duration) (held, watched time.Duration) {
	fl.t.Helper()
	start := time.Now()
	var names []string
	for _, in := range live {
		names = append(names, in.name)
	}
	sort.Strings(names)
	owners := locks.Shares(fl.ids, names)
	for {
		holders, wrong := fl.holders(), 0
		for i, id := range fl.ids {
			if holders[i] != owners[id] {
				wrong++
			}
		}
		if wrong == 0 && held == 0 {
			held = time.Since(start)
		}
		n := 0
		for _, in := range live {
			n += in.svc.Watched()
		}
		if wrong == 0 && n == len(fl.ids) {
			return held, time.Since(start)
		}
		if time.Since(start) > timeout {
			fl.t.Fatalf("after %s: %d of %d mailboxes not held by their owner, %d watched", timeout, wrong, len(fl.ids), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gapSampler records, per mailbox, the longest time nobody held it.
type gapSampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	max  []time.Duration
}

func (fl *fleet) sampleGaps() *gapSampler {
	g := &gapSampler{stop: make(chan struct{}), done: make(chan struct{}), max: make([]time.Duration, len(fl.ids))}
	lastHeld := make([]time.Time, len(fl.ids))
	for i := range lastHeld {
		lastHeld[i] = time.Now()
	}
	go func() {
		defer close(g.done)
		for {
			sts, err := fl.insp.InspectMany(context.Background(), fl.ids)
			now := time.Now()
			g.mu.Lock()
			for i := range fl.ids {
				if err == nil && sts[i].Held {
					lastHeld[i] = now
				}
				g.max[i] = max(g.max[i], now.Sub(lastHeld[i]))
			}
			g.mu.Unlock()
			select {
			case <-g.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return g
}

func (g *gapSampler) worst() time.Duration {
	close(g.stop)
	<-g.done
	return slices.Max(g.max)
}

// Fetch services on one Redis share the mailboxes by rendezvous hashing. A
// third that joins gets its share handed over between runs, no mailbox
// unheld for anything like its poll interval. One that stops (SIGTERM)
// releases its leases and leaves the fleet: the others own all of them at
// once, long before the TTL would have let them, and mail appended
// meanwhile is stored exactly once.
func TestServicesShareHandOverAndTakeOver(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot and Redis")
	const n, pollS = 20, 10
	const ttl = 10 * time.Second // a takeover that waited on it would show
	d := testserver.StartDovecot(t)
	r := testserver.StartRedis(t)
	st := teststore.Open(t, "postgres")
	users, ids := manyMailboxes(t, d, st, n, pollS)
	mail := make([][]string, n)
	appendEach := func(round int) {
		for i, user := range users {
			raw, id := teststore.Mail(fmt.Sprintf("%s-r%d", user, round), 1, 400)
			d.Append(t, user, "INBOX", raw)
			mail[i] = append(mail[i], id)
		}
	}
	appendEach(0)
	fl := &fleet{t: t, redis: r, store: st, ttl: ttl, insp: leaseview.NewRedisInspector(r.Client(t)), ids: ids}

	a, b := fl.start(), fl.start()
	held, watched := fl.waitShares([]*instance{a, b}, time.Minute)
	t.Logf("two instances: shares %d and %d held after %s, watched after %s",
		a.svc.Owned(), b.svc.Owned(), held.Round(time.Millisecond), watched.Round(time.Millisecond))
	if a.svc.Owned() == 0 || b.svc.Owned() == 0 {
		t.Fatalf("one instance owns everything: %d and %d", a.svc.Owned(), b.svc.Owned())
	}

	gaps := fl.sampleGaps()
	c := fl.start()
	held, watched = fl.waitShares([]*instance{a, b, c}, 2*ttl)
	worst := gaps.worst()
	t.Logf("a third joined: shares %d, %d, %d held after %s, watched after %s; longest a mailbox was unheld: %s",
		a.svc.Owned(), b.svc.Owned(), c.svc.Owned(), held.Round(time.Millisecond), watched.Round(time.Millisecond), worst.Round(time.Millisecond))
	if worst >= pollS*time.Second {
		t.Errorf("a mailbox was unheld for %s during the handover, want less than its poll interval %ds", worst, pollS)
	}

	appended := make(chan struct{})
	go func() {
		defer close(appended)
		appendEach(1)
	}()
	stopped := time.Now()
	a.svc.Stop()
	stopTook := time.Since(stopped)
	held, watched = fl.waitShares([]*instance{b, c}, 2*ttl)
	held += stopTook
	t.Logf("one stopped: Stop returned after %s; the other two held all %d mailboxes %s after it began, watched them after %s (TTL %s)",
		stopTook.Round(time.Millisecond), n, held.Round(time.Millisecond), (stopTook + watched).Round(time.Millisecond), ttl)
	if stopTook > 5*time.Second || held > ttl/2 {
		t.Errorf("Stop took %s and the takeover %s; want Stop within 5 s and the takeover well before the TTL (%s)", stopTook, held, ttl)
	}
	<-appended
	deadline := time.Now().Add(30 * time.Second)
	for i, id := range ids {
		for len(fl.storedIDs(id)) < len(mail[i]) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		teststore.RequireExactlyOnce(t, st, id, mail[i])
	}
}

func (fl *fleet) storedIDs(id int64) map[string]int {
	fl.t.Helper()
	a, err := fl.store.AuditMailbox(context.Background(), id)
	if err != nil {
		fl.t.Fatal(err)
	}
	return a.StoredMessageIDs
}
