package web

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// The status page at fleet size: mailboxes with problems first, the rest
// paged and filtered by name or address and by state.

// problem is something wrong with a mailbox that an admin should look at.
type problem struct {
	Kind  string // reconnect, lock-unknown, failing, unheld, quarantine
	Label string
}

func newStatusRow(ms mailboxStatus, quarantined int) statusRow {
	r := statusRow{mailboxStatus: ms, Quarantined: quarantined}
	if ms.Auth.NeedsReconnect {
		r.Problems = append(r.Problems, problem{"reconnect", "must be reconnected"})
	}
	switch {
	case ms.Lock.Error != "":
		r.Problems = append(r.Problems, problem{"lock-unknown", "lock state unknown"})
	case ms.Enabled && !ms.Lock.Held:
		// Every enabled mailbox is watched by one holder (invariant 8);
		// one without is not fetched.
		r.Problems = append(r.Problems, problem{"unheld", "not held by any fetcher"})
	}
	if ms.Enabled && ms.Fetch.Failures > 0 {
		r.Problems = append(r.Problems, problem{"failing", fmt.Sprintf("failing (%d)", ms.Fetch.Failures)})
	}
	if quarantined > 0 {
		r.Problems = append(r.Problems, problem{"quarantine", fmt.Sprintf("%d quarantined", quarantined)})
	}
	return r
}

// sortProblemsFirst puts the mailboxes with problems first; each group
// stays in its order (by ID).
func sortProblemsFirst(rows []statusRow) {
	hasProblems := func(r statusRow) int { return min(len(r.Problems), 1) }
	slices.SortStableFunc(rows, func(a, b statusRow) int {
		return cmp.Compare(hasProblems(b), hasProblems(a))
	})
}

// statusStates are the values of ?state=, in the order the page shows them.
var statusStates = []struct{ Name, Label string }{
	{"all", "All"},
	{"problems", "Problems"},
	{"held", "Held"},
	{"free", "Not held"},
	{"disabled", "Disabled"},
}

func (r *statusRow) inState(state string) bool {
	switch state {
	case "problems":
		return len(r.Problems) > 0
	case "held":
		return r.Lock.Held
	case "free":
		return !r.Lock.Held && r.Lock.Error == ""
	case "disabled":
		return !r.Enabled
	}
	return true
}

// newFleetRows lists the announced instances with the leases each holds,
// then any instance that holds leases without being announced.
func newFleetRows(members []leaseview.Member, rows []statusRow) []fleetRow {
	held := map[string]int{}
	unannounced := map[string]*holderView{}
	for _, r := range rows {
		if h := r.Lock.Holder; r.Lock.Held && h != nil {
			held[h.Instance]++
			unannounced[h.Instance] = h
		}
	}
	out := make([]fleetRow, 0, len(members))
	for _, m := range members {
		out = append(out, fleetRow{Member: m, Held: held[m.Instance], Live: true})
		delete(unannounced, m.Instance)
	}
	for _, inst := range slices.Sorted(maps.Keys(unannounced)) {
		h := unannounced[inst]
		out = append(out, fleetRow{Member: leaseview.Member{Instance: inst, Host: h.Host, PID: h.PID}, Held: held[inst]})
	}
	return out
}

// statusFilter is what ?q=, ?state= and ?page= ask the page to show.
type statusFilter struct {
	Query string // part of a name or address, any case
	State string // one of statusStates
	Page  int    // from 1
}

// statusPerPage is how many mailboxes one page lists.
const statusPerPage = 50

func parseStatusFilter(q url.Values) (statusFilter, error) {
	f := statusFilter{Query: strings.TrimSpace(q.Get("q")), State: q.Get("state"), Page: 1}
	bad := map[string]string{}
	if len(f.Query) > 200 {
		bad["q"] = "must be at most 200 characters"
	}
	if f.State == "" {
		f.State = "all"
	}
	if !slices.ContainsFunc(statusStates, func(s struct{ Name, Label string }) bool { return s.Name == f.State }) {
		bad["state"] = "must be all, problems, held, free or disabled"
	}
	if v := strings.TrimSpace(q.Get("page")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			bad["page"] = "must be a whole number from 1 to 100000"
		}
		f.Page = n
	}
	if len(bad) > 0 {
		return f, &fieldError{status: http.StatusBadRequest, fields: bad}
	}
	return f, nil
}

// statusPage is what one request shows of a reading: the mailboxes of
// its page, and links to the other pages and states.
type statusPage struct {
	*statusReading
	Filter    statusFilter
	Rows      []*statusRow
	Matched   int // mailboxes that pass the filter, on all pages
	First     int // the numbers of the first and last of Rows among them, from 1
	Last      int
	Pages     int
	PrevURL   string
	NextURL   string
	SelfURL   string      // this view, for the page's own refreshes
	States    []stateLink // with the mailboxes of each state that match the query
	FleetLive int         // instances announced
}

type stateLink struct {
	Name, Label, URL string
	Count            int
	Current          bool
}

// page picks the mailboxes of the filter's page; past the last page it
// shows the last one.
func (r *statusReading) page(f statusFilter) *statusPage {
	p := &statusPage{statusReading: r, Filter: f}
	query := strings.ToLower(f.Query)
	counts := map[string]int{}
	var matched []*statusRow
	for i := range r.Mailboxes {
		row := &r.Mailboxes[i]
		if query != "" && !strings.Contains(strings.ToLower(row.Name), query) && !strings.Contains(strings.ToLower(row.Email), query) {
			continue
		}
		for _, st := range statusStates {
			if row.inState(st.Name) {
				counts[st.Name]++
			}
		}
		if row.inState(f.State) {
			matched = append(matched, row)
		}
	}
	p.Matched = len(matched)
	p.Pages = max(1, (len(matched)+statusPerPage-1)/statusPerPage)
	p.Filter.Page = min(f.Page, p.Pages)
	from := (p.Filter.Page - 1) * statusPerPage
	p.Rows = matched[from:min(len(matched), from+statusPerPage)]
	p.First, p.Last = from+1, from+len(p.Rows)
	if p.Filter.Page > 1 {
		p.PrevURL = p.link(f.State, p.Filter.Page-1)
	}
	if p.Filter.Page < p.Pages {
		p.NextURL = p.link(f.State, p.Filter.Page+1)
	}
	p.SelfURL = p.link(f.State, p.Filter.Page)
	for _, st := range statusStates {
		p.States = append(p.States, stateLink{Name: st.Name, Label: st.Label, URL: p.link(st.Name, 1),
			Count: counts[st.Name], Current: st.Name == f.State})
	}
	for _, m := range r.Fleet {
		if m.Live {
			p.FleetLive++
		}
	}
	return p
}

// link is the status page with this view's query, another state and page.
func (p *statusPage) link(state string, page int) string {
	q := url.Values{}
	if p.Filter.Query != "" {
		q.Set("q", p.Filter.Query)
	}
	if state != "all" {
		q.Set("state", state)
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if len(q) == 0 {
		return "/admin/status"
	}
	return "/admin/status?" + q.Encode()
}
