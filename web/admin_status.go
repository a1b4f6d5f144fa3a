package web

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// The status page and /api/v1/mailboxes/{id}/status read only the lock
// Inspector and the database: showing a lease never touches it.

// lockView is a mailbox lease as the status page and the API show it.
type lockView struct {
	Held          bool        `json:"held"`
	Holder        *holderView `json:"holder"`
	AcquiredAt    *time.Time  `json:"acquired_at"`
	LastHeartbeat *time.Time  `json:"last_heartbeat"`
	TTLMillis     int64       `json:"ttl_ms"`       // time left before the lease expires unless renewed
	LeaseTTLMilli int64       `json:"lease_ttl_ms"` // the lease's full TTL, to which each heartbeat resets it
	Fence         int64       `json:"fence"`
	Error         string      `json:"error,omitempty"` // the inspector failed; the state is unknown
}

type holderView struct {
	Host     string `json:"host"`
	PID      int    `json:"pid"`
	Instance string `json:"instance"`
}

// fetchView summarises a mailbox's fetch state over its folders:
// uidvalidity and last_uid of its first folder, the latest run, the
// oldest of the folders' last successes (when every folder last
// succeeded), and the error and count of the folder failing longest.
type fetchView struct {
	UIDValidity   uint32     `json:"uidvalidity"`
	LastUID       uint32     `json:"last_uid"`
	LastRunAt     *time.Time `json:"last_run_at"`
	LastSuccessAt *time.Time `json:"last_success_at"`
	LastError     string     `json:"last_error"`
	Failures      int        `json:"failures"`
}

// mailboxStatus is one mailbox on the status page and in the API.
type mailboxStatus struct {
	MailboxID int64                 `json:"mailbox_id"`
	Name      string                `json:"name"`
	Email     string                `json:"email"`
	Enabled   bool                  `json:"enabled"`
	Lock      lockView              `json:"lock"`
	Fetch     fetchView             `json:"fetch"`
	Folders   []helpdesk.FetchState `json:"folders"`
	Runs      []helpdesk.FetchRun   `json:"recent_runs"`
}

func newLockView(st leaseview.State, err error) lockView {
	if err != nil {
		return lockView{Error: err.Error()}
	}
	v := lockView{Held: st.Held}
	if !st.Held {
		return v
	}
	v.TTLMillis = st.TTLLeft.Milliseconds()
	if !st.LastHeartbeat.IsZero() {
		hb := st.LastHeartbeat.UTC()
		v.LastHeartbeat = &hb
	}
	if h := st.Holder; h != nil {
		v.Holder = &holderView{Host: h.Host, PID: h.PID, Instance: h.Instance}
		if !h.AcquiredAt.IsZero() {
			at := h.AcquiredAt.UTC()
			v.AcquiredAt = &at
		}
		v.LeaseTTLMilli = h.TTLMillis
		v.Fence = h.Fence
	}
	return v
}

func newFetchView(m *helpdesk.Mailbox, states []helpdesk.FetchState) fetchView {
	var v fetchView
	if len(states) == 0 {
		return v
	}
	first := states[0]
	if len(m.Folders) > 0 {
		for _, st := range states {
			if st.Folder == m.Folders[0] {
				first = st
				break
			}
		}
	}
	v.UIDValidity, v.LastUID = first.UIDValidity, first.LastUID
	allSucceeded := true
	for _, st := range states {
		if st.LastRunAt != nil && (v.LastRunAt == nil || st.LastRunAt.After(*v.LastRunAt)) {
			v.LastRunAt = st.LastRunAt
		}
		if st.LastSuccessAt == nil {
			allSucceeded = false
		} else if v.LastSuccessAt == nil || st.LastSuccessAt.Before(*v.LastSuccessAt) {
			v.LastSuccessAt = st.LastSuccessAt
		}
		if st.Failures > v.Failures || (v.LastError == "" && st.LastError != "") {
			v.Failures = max(v.Failures, st.Failures)
			v.LastError = st.LastError
		}
	}
	if !allSucceeded {
		v.LastSuccessAt = nil
	}
	return v
}

// inspectConcurrency bounds the lock reads one page makes at once, and
// inspectTimeout their total time: a page with Redis down shows the lock
// state as unknown quickly instead of waiting for each call to fail.
const (
	inspectConcurrency = 16
	inspectTimeout     = 2 * time.Second
)

// inspectAll reads the lease of every mailbox, concurrently. After the
// first failure no more reads start; the mailboxes not read show that
// failure as their (unknown) lock state.
func (s *Server) inspectAll(ctx context.Context, ids []int64) []lockView {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	out := make([]lockView, len(ids))
	read := make([]bool, len(ids))
	sem := make(chan struct{}, inspectConcurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failure string
	for i, id := range ids {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			v := s.inspect(ctx, id)
			out[i], read[i] = v, v.Error == ""
			if v.Error != "" {
				mu.Lock()
				if failure == "" {
					failure = v.Error
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if failure == "" {
		failure = "lock state not read in time"
	}
	for i := range out {
		if !read[i] {
			out[i] = lockView{Error: failure}
		}
	}
	return out
}

func (s *Server) inspect(ctx context.Context, id int64) lockView {
	st, err := s.cfg.Inspector.Inspect(ctx, id)
	if err != nil {
		s.metrics.inspect.WithLabelValues("error").Inc()
		s.log.Warn("web: inspect lock", "mailbox_id", id, "err", err)
	} else {
		s.metrics.inspect.WithLabelValues("ok").Inc()
	}
	return newLockView(st, err)
}

// outboxStatus is the outbox on the status page and in /api/v1/outbox:
// the counts, and the newest failed mails for an admin to retry.
type outboxStatus struct {
	helpdesk.OutboxStats
	FailedMails []failedMail `json:"failed_mails"`
}

// failedMail is a failed outbox row without its body and headers.
type failedMail struct {
	ID        int64      `json:"id"`
	Kind      string     `json:"kind"`
	To        []string   `json:"to"`
	Subject   string     `json:"subject"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error"`
	CreatedAt time.Time  `json:"created_at"` // queued
	FailedAt  *time.Time `json:"failed_at"`  // null for mails failed before the outbox kept it
}

// readOutbox reads the outbox figures; it only reads.
func (s *Server) readOutbox(ctx context.Context) (outboxStatus, error) {
	stats, err := s.cfg.Store.OutboxStats(ctx)
	if err != nil {
		return outboxStatus{}, err
	}
	failed, err := s.cfg.Store.FailedOutbox(ctx)
	if err != nil {
		return outboxStatus{}, err
	}
	v := outboxStatus{OutboxStats: stats, FailedMails: make([]failedMail, len(failed))}
	for i, m := range failed {
		v.FailedMails[i] = failedMail{ID: m.ID, Kind: m.Kind, To: m.To, Subject: m.Subject,
			Attempts: m.Attempts, LastError: m.LastError, CreatedAt: m.CreatedAt.UTC()}
		if m.FailedAt != nil {
			at := m.FailedAt.UTC()
			v.FailedMails[i].FailedAt = &at
		}
	}
	return v, nil
}

// apiOutbox is the outbox as the status page shows it, read afresh.
func (s *Server) apiOutbox(c echo.Context) error {
	v, err := s.readOutbox(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// adminOutboxRetry is an admin's manual retry of a failed mail: the same
// row, pending again, sent by the notifier on its next poll.
func (s *Server) adminOutboxRetry(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.RetryOutbox(c.Request().Context(), id); err != nil {
		if errors.Is(err, helpdesk.ErrNotFound) {
			return echo.NewHTTPError(http.StatusNotFound, "no failed mail with this id")
		}
		return err
	}
	s.log.Info("web: outbox retry requested", "outbox_id", id, "user_id", currentUser(c).ID)
	return c.Redirect(http.StatusSeeOther, "/admin/status?notice=outbox-retried")
}

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
	quarantine, errQ := st.Quarantined(ctx, 0)
	outbox, errOutbox := s.readOutbox(ctx)
	lockViews := <-lockc
	for _, err := range []error{errStates, errRuns, errQ, errOutbox} {
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
	p := &statusPage{Names: map[int64]string{}, Quarantine: quarantine, Outbox: outbox, Refresh: 5, At: at}
	for i := range mbs {
		m := &mbs[i]
		p.Names[m.ID] = m.Name
		p.Mailboxes = append(p.Mailboxes, mailboxStatus{
			MailboxID: m.ID, Name: m.Name, Email: m.Email, Enabled: m.Enabled,
			Lock:    lockViews[i],
			Fetch:   newFetchView(m, statesBy[m.ID]),
			Folders: statesBy[m.ID],
			Runs:    runsBy[m.ID],
		})
	}
	if p.Body, err = s.renderFragment("admin_status.html", "status_body", p); err != nil {
		return nil, err
	}
	return p, nil
}

// mailboxStatusOf reads one mailbox's status (for the API and the
// mailbox page).
func (s *Server) mailboxStatusOf(ctx context.Context, id int64, runs int) (*helpdesk.Mailbox, mailboxStatus, error) {
	m, err := s.cfg.Store.Mailbox(ctx, id)
	if err != nil {
		return nil, mailboxStatus{}, err
	}
	lockc := make(chan lockView, 1)
	go func() { lockc <- s.inspect(ctx, id) }()
	states, err := s.cfg.Store.FetchStates(ctx, id)
	var rs []helpdesk.FetchRun
	if err == nil && runs > 0 {
		rs, err = s.cfg.Store.RecentRuns(ctx, id, runs)
	}
	lv := <-lockc
	if err != nil {
		return nil, mailboxStatus{}, err
	}
	if states == nil {
		states = []helpdesk.FetchState{}
	}
	if rs == nil {
		rs = []helpdesk.FetchRun{}
	}
	return m, mailboxStatus{
		MailboxID: m.ID, Name: m.Name, Email: m.Email, Enabled: m.Enabled,
		Lock: lv, Fetch: newFetchView(m, states), Folders: states, Runs: rs,
	}, nil
}

// parseID reads a positive int64 path parameter; anything else is a 400
// that names the parameter.
func parseID(c echo.Context, name string) (int64, error) {
	raw := c.Param(name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 || len(raw) > 19 || raw[0] == '+' || raw[0] == '0' {
		return 0, &fieldError{status: http.StatusBadRequest, fields: map[string]string{name: "must be a positive whole number"}}
	}
	return id, nil
}
