package web

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// statusReading is one reading of the fetch fleet: every mailbox with its
// lease and fetch state, the live fetch instances, the quarantine and the
// outbox. statusCache shares it among all admins' requests; each request
// then shows its own page of it (admin_status_list.go).
type statusReading struct {
	Mailboxes  []statusRow // problems first, then by ID
	Fleet      []fleetRow
	FleetError string // the fleet could not be read
	LockError  string // the leases could not be read: every lock state is unknown
	// Quarantine is the newest quarantineOnStatusPage unresolved messages
	// of QuarantineTotal; each mailbox's page lists all of its own.
	Quarantine      []helpdesk.QuarantinedMessage
	QuarantineTotal int
	Outbox          outboxStatus
	Names           map[int64]string
	Refresh         int       // seconds between automatic refreshes
	At              time.Time // when it was read
}

// statusRow is a mailbox on the status page: its status and what is
// wrong with it.
type statusRow struct {
	mailboxStatus
	Quarantined int       // unresolved quarantined messages
	Problems    []problem // most urgent first; none when all is well
}

// fleetRow is a fetch instance: as it announces itself, with the leases
// it holds in this reading. An instance that holds leases without being
// announced (it left, or has not joined yet) has Live false.
type fleetRow struct {
	leaseview.Member
	Held int
	Live bool
}

const (
	// runsOnStatusPage is how many recent runs the overview shows per mailbox.
	runsOnStatusPage = 3
	// quarantineOnStatusPage is how many quarantined messages it lists.
	quarantineOnStatusPage = 20
)

func (s *Server) adminStatus(c echo.Context) error {
	f, err := parseStatusFilter(c.QueryParams())
	if err != nil {
		return err
	}
	r, err := s.statusSnapshot(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "admin_status.html", "Status", r.page(f))
}

// statusCache shares one reading of the status page among all admins'
// requests: a reading younger than Config.StatusCacheTTL is served as is;
// an older one is still served while one new reading runs in the
// background (the page says when it was read). Only the very first
// request waits for a reading, and concurrent first requests share it: a
// wall of admins' screens costs the database and Redis one reading per
// TTL.
type statusCache struct {
	mu       sync.Mutex
	reading  *statusReading
	inflight chan struct{} // closed when the reading in flight is done
	err      error         // of the last reading, for its waiters
}

func (s *Server) statusSnapshot(ctx context.Context) (*statusReading, error) {
	ttl := s.cfg.StatusCacheTTL
	if ttl < 0 {
		return s.readStatus(ctx)
	}
	c := &s.status
	c.mu.Lock()
	r, wait := c.reading, c.inflight
	if wait == nil && (r == nil || time.Since(r.At) >= ttl) {
		wait = make(chan struct{})
		c.inflight = wait
		// The reading belongs to all its waiters: one request giving up
		// does not cancel it.
		go s.refreshStatus(context.WithoutCancel(ctx), wait)
	}
	c.mu.Unlock()
	if r != nil {
		return r, nil
	}
	select {
	case <-wait:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	return c.reading, nil
}

func (s *Server) refreshStatus(ctx context.Context, done chan struct{}) {
	r, err := s.readStatus(ctx)
	c := &s.status
	c.mu.Lock()
	c.inflight, c.err = nil, err
	if err == nil {
		c.reading = r
	} else {
		c.reading = nil // the next request waits and shows the error (logged there)
	}
	c.mu.Unlock()
	close(done)
}

// readStatus reads the status of every mailbox, the fleet and the outbox:
// a fixed number of queries and two Redis round trips (all leases in one,
// the fleet in the other), whatever the number of mailboxes.
func (s *Server) readStatus(ctx context.Context) (*statusReading, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st := s.cfg.Store
	mbs, err := st.Mailboxes(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(mbs))
	for i, m := range mbs {
		ids[i] = m.ID
	}
	at := time.Now().UTC()
	leasec := make(chan leaseReading, 1)
	go func() { leasec <- s.readLeases(ctx, ids) }()
	states, errStates := st.AllFetchStates(ctx)
	runs, errRuns := st.AllRecentRuns(ctx, runsOnStatusPage)
	progress, errProgress := st.AllRunProgress(ctx)
	quarantine, errQ := st.Quarantined(ctx, 0)
	quarantined, errQC := st.QuarantineCounts(ctx)
	outbox, errOutbox := s.readOutbox(ctx)
	leases := <-leasec
	for _, err := range []error{errStates, errRuns, errProgress, errQ, errQC, errOutbox} {
		if err != nil {
			return nil, err
		}
	}
	statesBy := map[int64][]helpdesk.FetchState{}
	for _, x := range states {
		statesBy[x.MailboxID] = append(statesBy[x.MailboxID], x)
	}
	runsBy := map[int64][]helpdesk.FetchRun{}
	for _, r := range runs {
		runsBy[r.MailboxID] = append(runsBy[r.MailboxID], r)
	}
	progressBy := map[int64]*helpdesk.RunProgress{}
	for i := range progress {
		progressBy[progress[i].MailboxID] = &progress[i]
	}
	r := &statusReading{
		Names: make(map[int64]string, len(mbs)), Outbox: outbox, Refresh: 5, At: at,
		Mailboxes: make([]statusRow, len(mbs)),
	}
	for i := range mbs {
		m := &mbs[i]
		r.Names[m.ID] = m.Name
		r.Mailboxes[i] = newStatusRow(mailboxStatus{
			MailboxID: m.ID, Name: m.Name, Email: m.Email, Enabled: m.Enabled,
			Auth:     newAuthView(m),
			Lock:     leases.locks[i],
			Fetch:    newFetchView(m, statesBy[m.ID]),
			Progress: newProgressView(progressBy[m.ID]),
			Folders:  statesBy[m.ID],
			Runs:     runsBy[m.ID],
		}, quarantined[m.ID])
	}
	sortProblemsFirst(r.Mailboxes)
	r.Fleet = newFleetRows(leases.fleet, r.Mailboxes)
	if leases.fleetErr != nil {
		r.FleetError = leases.fleetErr.Error()
	}
	if leases.err != nil {
		r.LockError = leases.err.Error()
	}
	r.Quarantine = quarantine[:min(len(quarantine), quarantineOnStatusPage)]
	for _, n := range quarantined {
		r.QuarantineTotal += n
	}
	return r, nil
}
