package web

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/locks"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// fleetSeed is what seedFleet made: mailboxes in ID order, each with what
// is wrong with it (nothing for most).
type fleetSeed struct {
	ids      []int64
	problems map[int64]string // by mailbox: failing, unheld, quarantine
	disabled int64
	leases   []*locks.Lease
}

// seedFleet creates n mailboxes named "Support 0".."Support n-1" (fetched
// when fetchAll, else only the problem ones) whose leases are held in
// e.local, except: every 40th from 7 fails its fetch (and stays held),
// the 3rd to last is enabled but not held, the 2nd to last has a
// quarantined message, the last is disabled and not held.
func seedFleet(t testing.TB, e *env, n int, fetchAll bool) *fleetSeed {
	t.Helper()
	ctx := context.Background()
	s := &fleetSeed{problems: map[int64]string{}}
	for i := range n {
		id := e.mailbox(t, i)
		s.ids = append(s.ids, id)
		switch {
		case i%40 == 7:
			s.problems[id] = "failing"
			e.fetched(t, id, errors.New(`imap: login: NO [AUTHENTICATIONFAILED] Authentication failed.`))
		case i == n-2:
			s.problems[id] = "quarantine"
			e.quarantined(t, id, e.fetched(t, id, nil), 9)
		case fetchAll:
			e.fetched(t, id, nil)
		}
		switch i {
		case n - 3:
			s.problems[id] = "unheld"
			continue
		case n - 1:
			s.disabled = id
			if err := e.store.SetMailboxEnabled(ctx, id, false); err != nil {
				t.Fatal(err)
			}
			continue
		}
		fence, err := e.store.Fence(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		lease, err := e.local.Obtain(ctx, id, fence+1)
		if err != nil {
			t.Fatal(err)
		}
		s.leases = append(s.leases, lease)
	}
	t.Cleanup(func() {
		for _, l := range s.leases {
			l.Release()
		}
	})
	return s
}

// withProblems are the seeded mailboxes with problems, in ID order.
func (s *fleetSeed) withProblems() []int64 {
	var out []int64
	for _, id := range s.ids {
		if s.problems[id] != "" {
			out = append(out, id)
		}
	}
	return out
}

// pageOrder is the order of the status page: problems first, each group
// by ID.
func (s *fleetSeed) pageOrder() []int64 {
	out := s.withProblems()
	for _, id := range s.ids {
		if s.problems[id] == "" {
			out = append(out, id)
		}
	}
	return out
}

var mailboxRow = regexp.MustCompile(`<tr data-mailbox="(\d+)"`)

// listedMailboxes are the mailbox rows of a status page, in order.
func listedMailboxes(t testing.TB, body string) []int64 {
	t.Helper()
	var ids []int64
	for _, m := range mailboxRow.FindAllStringSubmatch(body, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		ids = append(ids, id)
	}
	return ids
}

// TestStatusPageShowsProblemsFirstAndPagesTheRest: of 120 mailboxes, the
// ones failing, unheld while enabled or with quarantined mail come first,
// marked with what is wrong; the rest follow by ID, 50 a page; ?state=
// and ?q= filter, and the links keep the filter.
func TestStatusPageShowsProblemsFirstAndPagesTheRest(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		seed := seedFleet(t, e, 120, false)
		problems := seed.withProblems()
		if len(problems) != 5 {
			t.Fatalf("seeded %d mailboxes with problems, want 5", len(problems))
		}
		all := seed.pageOrder()
		rest := all[len(problems):]
		admin := e.session(t, e.admin)

		get := func(path string) string {
			t.Helper()
			resp, body := admin.get(path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d\n%s", path, resp.StatusCode, body)
			}
			return body
		}
		body := get("/admin/status")
		if got := listedMailboxes(t, body); !slices.Equal(got, all[:50]) {
			t.Fatalf("page 1 lists %v, want the problems first then by ID: %v", got, all[:50])
		}
		for _, id := range problems {
			row := between(t, body, fmt.Sprintf(`<tr data-mailbox="%d"`, id), "</tr>")
			if !strings.Contains(row, `class="lock-`) || !strings.Contains(row, " problem\"") ||
				!strings.Contains(row, fmt.Sprintf(`data-problem="%s"`, seed.problems[id])) {
				t.Errorf("mailbox %d (%s) row:\n%s", id, seed.problems[id], row)
			}
		}
		if row := between(t, body, fmt.Sprintf(`<tr data-mailbox="%d"`, rest[0]), "</tr>"); strings.Contains(row, "data-problem") {
			t.Errorf("a mailbox without problems is marked:\n%s", row)
		}
		for state, n := range map[string]int{"all": 120, "problems": 5, "held": 118, "free": 2, "disabled": 1} {
			if want := fmt.Sprintf(`data-count="%s">(%d)<`, state, n); !strings.Contains(body, want) {
				t.Errorf("state counts lack %s:\n%s", want, between(t, body, `<nav class="actions states"`, "</nav>"))
			}
		}
		for _, want := range []string{`data-field="page">Page 1 of 3<`, `href="/admin/status?page=2" rel="next"`, `data-refresh-url="/admin/status"`} {
			if !strings.Contains(body, want) {
				t.Errorf("page 1 lacks %s", want)
			}
		}

		body = get("/admin/status?page=3")
		if got := listedMailboxes(t, body); !slices.Equal(got, all[100:]) {
			t.Errorf("page 3 lists %v, want %v", got, all[100:])
		}
		if !strings.Contains(body, `href="/admin/status?page=2" rel="prev"`) || strings.Contains(body, `rel="next"`) ||
			!strings.Contains(body, `data-refresh-url="/admin/status?page=3"`) {
			t.Errorf("page 3 links:\n%s", between(t, body, `<nav class="actions pager"`, "</nav>"))
		}
		// Past the last page: the last page.
		if got := listedMailboxes(t, get("/admin/status?page=9")); !slices.Equal(got, all[100:]) {
			t.Errorf("page 9 lists %v, want the last page", got)
		}

		if got := listedMailboxes(t, get("/admin/status?state=problems")); !slices.Equal(got, problems) {
			t.Errorf("problems: %v, want %v", got, problems)
		}
		if got := listedMailboxes(t, get("/admin/status?state=free")); !slices.Equal(got, []int64{seed.ids[117], seed.ids[119]}) {
			t.Errorf("not held: %v", got)
		}
		if got := listedMailboxes(t, get("/admin/status?state=disabled")); !slices.Equal(got, []int64{seed.disabled}) {
			t.Errorf("disabled: %v", got)
		}
		// Name or address, any case: "Support 4" and "Support 40".."Support 49".
		body = get("/admin/status?q=SUPPORT+4")
		var want []int64 // in page order: the problem (Support 47 fails) first
		for _, id := range all {
			if id == seed.ids[4] || (id >= seed.ids[40] && id <= seed.ids[49]) {
				want = append(want, id)
			}
		}
		if got := listedMailboxes(t, body); !slices.Equal(got, want) {
			t.Errorf("q=SUPPORT 4: %v, want %v", got, want)
		}
		if !strings.Contains(html.UnescapeString(body), `href="/admin/status?q=SUPPORT+4&state=problems"`) || !strings.Contains(body, `value="SUPPORT 4"`) {
			t.Errorf("the state links and the form lose the filter:\n%s", between(t, body, `<nav class="actions states"`, "</nav>"))
		}
		for state, n := range map[string]int{"all": 11, "problems": 1, "held": 11, "free": 0, "disabled": 0} {
			if want := fmt.Sprintf(`data-count="%s">(%d)<`, state, n); !strings.Contains(body, want) {
				t.Errorf("state counts of the matches lack %s", want)
			}
		}
		if got := listedMailboxes(t, get("/admin/status?q=support119%40example")); !slices.Equal(got, []int64{seed.disabled}) {
			t.Errorf("by address: %v", got)
		}
		if body := get("/admin/status?q=nobody"); !strings.Contains(body, `data-field="no-match"`) {
			t.Error("no match not said")
		}

		for _, bad := range []string{"?page=0", "?page=x", "?state=bogus", "?q=" + strings.Repeat("x", 201)} {
			if resp, _ := admin.get("/admin/status" + bad); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: %d, want 400", bad, resp.StatusCode)
			}
		}
	})
}

// TestStatusPageListsTheFleet: the fetch instances with what each
// announces and the leases it holds; a holder that is not announced is
// listed as such; with no instance at all the page says nothing is
// fetched.
func TestStatusPageListsTheFleet(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite")
	ctx := context.Background()
	seed := seedFleet(t, e, 10, false)
	admin := e.session(t, e.admin)

	// The leases are held but their instance has not announced itself.
	_, body := admin.get("/admin/status")
	if !strings.Contains(body, `data-count="fleet">(0 live)<`) {
		t.Errorf("fleet count:\n%s", between(t, body, "<h2>Fetch instances", "</table>"))
	}
	row := between(t, body, `<tr data-instance="inst-test" class="gone"`, "</tr>")
	for _, want := range []string{"not announced", `data-field="host">test-host<`, `data-field="pid">4242<`, `data-field="held">8<`} {
		if !strings.Contains(row, want) {
			t.Errorf("unannounced holder lacks %s:\n%s", want, row)
		}
	}

	fleet := e.local.Fleet()
	fleet.SetOwned(len(seed.leases))
	if err := fleet.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_, body = admin.get("/admin/status")
	row = between(t, body, `<tr data-instance="inst-test"`, "</tr>")
	for _, want := range []string{`data-field="instance">inst-test<`, `data-field="host">test-host<`, `data-field="pid">4242<`,
		`data-field="owned">8<`, `data-field="held">8<`, " ago<"} {
		if !strings.Contains(row, want) {
			t.Errorf("fleet member lacks %s:\n%s", want, row)
		}
	}
	if strings.Contains(row, "not announced") || !strings.Contains(body, `data-count="fleet">(1 live)<`) {
		t.Errorf("member shown as not announced:\n%s", row)
	}
	// Every mailbox row names its holder.
	for _, id := range seed.ids {
		row := between(t, body, fmt.Sprintf(`<tr data-mailbox="%d"`, id), "</tr>")
		if held := seed.problems[id] != "unheld" && id != seed.disabled; held != strings.Contains(row, `data-field="holder-instance">inst-test<`) {
			t.Errorf("mailbox %d (held %v) row:\n%s", id, held, row)
		}
	}

	fleet.Stop()
	for _, l := range seed.leases {
		l.Release()
	}
	_, body = admin.get("/admin/status")
	if !strings.Contains(body, `data-field="fleet-empty"`) || strings.Contains(body, "<tr data-instance=") {
		t.Errorf("empty fleet:\n%s", between(t, body, "<h2>Fetch instances", "<h2>Mailboxes"))
	}
}

// TestStatusPageReadsLocksInOneCall: one reading of the page reads the
// leases of all its mailboxes with one InspectMany and the fleet with one
// Fleet call, never mailbox by mailbox.
func TestStatusPageReadsLocksInOneCall(t *testing.T) {
	t.Parallel()
	insp := &countingInspector{}
	e := setup(t, "sqlite", func(c *Config) {
		insp.inner = c.Inspector
		c.Inspector = insp
	})
	seed := seedFleet(t, e, 30, false)
	admin := e.session(t, e.admin)
	for i := range 3 {
		resp, body := admin.get("/admin/status?state=problems")
		if resp.StatusCode != http.StatusOK || len(listedMailboxes(t, body)) != len(seed.withProblems()) {
			t.Fatalf("load %d: %d", i, resp.StatusCode)
		}
		many, one, fleets := insp.inspectMany.Load(), insp.inspects.Load(), insp.fleets.Load()
		if many != int64(i+1) || one != 0 || fleets != int64(i+1) {
			t.Fatalf("after %d uncached loads of 30 mailboxes: %d InspectMany, %d Inspect, %d Fleet calls; want %d, 0, %d",
				i+1, many, one, fleets, i+1, i+1)
		}
	}
}

// TestStatusPageWithLocksUnreadable: when the leases cannot be read,
// every mailbox's lock state is unknown, which is a problem, and the page
// says why.
func TestStatusPageWithLocksUnreadable(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite", func(c *Config) { c.Inspector = failingInspector{c.Inspector} })
	seedFleet(t, e, 6, false)
	_, body := e.session(t, e.admin).get("/admin/status?state=problems")
	if got := len(listedMailboxes(t, body)); got != 6 || strings.Count(body, `data-problem="lock-unknown"`) != 6 ||
		!strings.Contains(body, `data-field="lock-error">The lock states could not be read: redis: connection refused<`) {
		t.Errorf("with the lock read failing: %d problem rows:\n%s", got, body)
	}
}

// failingInspector fails every lease read.
type failingInspector struct{ leaseview.Inspector }

func (failingInspector) InspectMany(context.Context, []int64) ([]leaseview.State, error) {
	return nil, errors.New("redis: connection refused")
}

// TestStatusPageListsRedisFleet: three fetch instances announced on a
// real Redis, each holding the leases of the mailboxes it prefers, read
// through the GET/PTTL-only user: the page lists each with its host, pid,
// owned count and leases held, and each mailbox with its holder. One
// leaves: it is no longer listed as live, and the leases it still holds
// are listed under it as not announced.
func TestStatusPageListsRedisFleet(t *testing.T) {
	t.Parallel()
	rsrv := testserver.StartRedis(t)
	e := setup(t, "sqlite", func(c *Config) { c.Inspector = leaseview.NewRedisInspector(redisViewer(t, rsrv)) })
	ctx := context.Background()
	var ids []int64
	for i := range 12 {
		ids = append(ids, e.mailbox(t, i))
	}
	names := []string{"fetch-a", "fetch-b", "fetch-c"}
	holder := map[int64]string{}
	fleets := map[string]*locks.Fleet{}
	for i, name := range names {
		opts := locks.Options{TTL: 30 * time.Second, Host: "host-" + name, PID: 100 + i, Instance: name}
		client := rsrv.Client(t)
		locker := locks.NewRedis(client, opts)
		owned := 0
		for _, id := range ids {
			if locks.Preferred(id, names) != name {
				continue
			}
			lease, err := locker.Obtain(ctx, id, 1)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(lease.Release)
			holder[id] = name
			owned++
		}
		f := locks.NewRedisFleet(client, opts)
		f.SetOwned(owned)
		if err := f.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Stop)
		fleets[name] = f
	}
	admin := e.session(t, e.admin)
	_, body := admin.get("/admin/status")
	if !strings.Contains(body, `data-count="fleet">(3 live)<`) {
		t.Errorf("fleet:\n%s", between(t, body, "<h2>Fetch instances", "</table>"))
	}
	for i, name := range names {
		n := 0
		for _, h := range holder {
			if h == name {
				n++
			}
		}
		row := between(t, body, fmt.Sprintf(`<tr data-instance="%s">`, name), "</tr>")
		for _, want := range []string{fmt.Sprintf(`data-field="host">host-%s<`, name), fmt.Sprintf(`data-field="pid">%d<`, 100+i),
			fmt.Sprintf(`data-field="owned">%d<`, n), fmt.Sprintf(`data-field="held">%d<`, n), " ago<"} {
			if !strings.Contains(row, want) {
				t.Errorf("member %s lacks %s:\n%s", name, want, row)
			}
		}
	}
	for _, id := range ids {
		row := between(t, body, fmt.Sprintf(`<tr data-mailbox="%d"`, id), "</tr>")
		if !strings.Contains(row, fmt.Sprintf(`data-field="holder-instance">%s<`, holder[id])) {
			t.Errorf("mailbox %d held by %s:\n%s", id, holder[id], row)
		}
	}

	fleets["fetch-b"].Stop()
	_, body = admin.get("/admin/status")
	if !strings.Contains(body, `data-count="fleet">(2 live)<`) || !strings.Contains(body, `<tr data-instance="fetch-b" class="gone">`) {
		t.Errorf("after fetch-b left:\n%s", between(t, body, "<h2>Fetch instances", "</table>"))
	}
}
