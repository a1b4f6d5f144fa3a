package web

import (
	"context"
	"html/template"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// statusPage is the data of the admin status page.
type statusPage struct {
	Mailboxes  []mailboxStatus
	Quarantine []helpdesk.QuarantinedMessage
	Outbox     outboxStatus
	Names      map[int64]string
	Refresh    int       // seconds between automatic refreshes
	At         time.Time // when it was read
	// Body is the page's table and quarantine, rendered once per reading
	// (it holds nothing of the viewer: no name, no CSRF token).
	Body template.HTML
}

// runsOnStatusPage is how many recent runs the overview shows per mailbox.
const runsOnStatusPage = 3

func (s *Server) adminStatus(c echo.Context) error {
	p, err := s.statusSnapshot(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "admin_status.html", "Status", p)
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
	page     *statusPage
	inflight chan struct{} // closed when the reading in flight is done
	err      error         // of the last reading, for its waiters
}

func (s *Server) statusSnapshot(ctx context.Context) (*statusPage, error) {
	ttl := s.cfg.StatusCacheTTL
	if ttl < 0 {
		return s.readStatus(ctx)
	}
	c := &s.status
	c.mu.Lock()
	p, wait := c.page, c.inflight
	if wait == nil && (p == nil || time.Since(p.At) >= ttl) {
		wait = make(chan struct{})
		c.inflight = wait
		// The reading belongs to all its waiters: one request giving up
		// does not cancel it.
		go s.refreshStatus(context.WithoutCancel(ctx), wait)
	}
	c.mu.Unlock()
	if p != nil {
		return p, nil
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
	return c.page, nil
}

func (s *Server) refreshStatus(ctx context.Context, done chan struct{}) {
	p, err := s.readStatus(ctx)
	c := &s.status
	c.mu.Lock()
	c.inflight, c.err = nil, err
	if err == nil {
		c.page = p
	} else {
		c.page = nil // the next request waits and shows the error (logged there)
	}
	c.mu.Unlock()
	close(done)
}

// readStatus reads the status of every mailbox and the outbox: a fixed
// number of queries, whatever the number of mailboxes, and the leases read
// concurrently meanwhile.
func (s *Server) readStatus(ctx context.Context) (*statusPage, error) {
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
	lockc := make(chan []lockView, 1)
	go func() { lockc <- s.inspectAll(ctx, ids) }()
	states, errStates := st.AllFetchStates(ctx)
	runs, errRuns := st.AllRecentRuns(ctx, runsOnStatusPage)
	progress, errProgress := st.AllRunProgress(ctx)
	quarantine, errQ := st.Quarantined(ctx, 0)
	outbox, errOutbox := s.readOutbox(ctx)
	lockViews := <-lockc
	for _, err := range []error{errStates, errRuns, errProgress, errQ, errOutbox} {
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
	p := &statusPage{Names: map[int64]string{}, Quarantine: quarantine, Outbox: outbox, Refresh: 5, At: at}
	for i := range mbs {
		m := &mbs[i]
		p.Names[m.ID] = m.Name
		p.Mailboxes = append(p.Mailboxes, mailboxStatus{
			MailboxID: m.ID, Name: m.Name, Email: m.Email, Enabled: m.Enabled,
			Lock:     lockViews[i],
			Fetch:    newFetchView(m, statesBy[m.ID]),
			Progress: newProgressView(progressBy[m.ID]),
			Folders:  statesBy[m.ID],
			Runs:     runsBy[m.ID],
		})
	}
	if p.Body, err = s.renderFragment("admin_status.html", "status_body", p); err != nil {
		return nil, err
	}
	return p, nil
}
