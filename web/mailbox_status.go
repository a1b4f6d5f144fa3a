package web

import (
	"context"
	"fmt"
	"math"
	"time"

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

// progressView is how far a long fetch (a first import) has got through a
// folder, with rate and ETA from the numbers the run stored; nil when no
// run reports progress.
type progressView struct {
	Folder    string    `json:"folder"`
	Done      int       `json:"done"`
	Total     int       `json:"total"`
	Left      int       `json:"left"`
	RatePerS  float64   `json:"rate_per_s"` // messages per second; 0 until the first batch is done
	ETASecs   *int64    `json:"eta_s"`      // null while there is no rate to go by
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func newProgressView(p *helpdesk.RunProgress) *progressView {
	if p == nil {
		return nil
	}
	v := &progressView{
		Folder: p.Folder, Done: p.Done, Total: p.Total, Left: p.Left(),
		RatePerS:  math.Round(p.Rate()*10) / 10,
		StartedAt: p.StartedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
	}
	if eta, ok := p.ETA(); ok {
		secs := int64(eta.Seconds())
		v.ETASecs = &secs
	}
	return v
}

// Percent is how much is done, 0 to 100, for the page's bar.
func (v *progressView) Percent() int {
	if v.Total <= 0 {
		return 0
	}
	return v.Done * 100 / v.Total
}

// ETA is the time left as the page shows it.
func (v *progressView) ETA() string {
	if v.ETASecs == nil {
		return "unknown yet"
	}
	eta := time.Duration(*v.ETASecs) * time.Second
	if eta < time.Minute {
		return eta.String() // whole seconds: "51s", not humanDuration's "51.0s"
	}
	return humanDuration(eta)
}

// authView is how a mailbox signs in and whether that still works: an
// OAuth2 mailbox whose consent was revoked needs an admin to reconnect it.
type authView struct {
	Method          string `json:"method"` // password or oauth2
	Provider        string `json:"provider,omitempty"`
	Account         string `json:"account,omitempty"`
	NeedsReconnect  bool   `json:"needs_reconnect"`
	ReconnectReason string `json:"reconnect_reason,omitempty"`
}

func newAuthView(m *helpdesk.Mailbox) authView {
	v := authView{Method: helpdesk.AuthPassword}
	if o := m.OAuth; o != nil {
		v.Method = helpdesk.AuthOAuth2
		v.Provider, v.Account, v.NeedsReconnect, v.ReconnectReason = o.Provider, o.Account, o.NeedsReconnect, o.ReconnectReason
	}
	return v
}

// mailboxStatus is one mailbox on the status page and in the API.
type mailboxStatus struct {
	MailboxID int64                 `json:"mailbox_id"`
	Name      string                `json:"name"`
	Email     string                `json:"email"`
	Enabled   bool                  `json:"enabled"`
	Auth      authView              `json:"auth"`
	Lock      lockView              `json:"lock"`
	Fetch     fetchView             `json:"fetch"`
	Progress  *progressView         `json:"progress"`
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

// inspectTimeout bounds the lease reads of one status reading: with
// Redis down the page shows the lock states as unknown quickly.
const inspectTimeout = 2 * time.Second

// leaseReading is the lease of each mailbox (in the order of the IDs
// asked for) and the live fetch instances.
type leaseReading struct {
	locks    []lockView
	err      error // the leases could not be read; every lockView says so
	fleet    []leaseview.Member
	fleetErr error
}

// readLeases reads the leases of all the mailboxes in one round trip
// (Inspector.InspectMany) and, meanwhile, the fleet.
func (s *Server) readLeases(ctx context.Context, ids []int64) leaseReading {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	var r leaseReading
	fleetDone := make(chan struct{})
	go func() {
		defer close(fleetDone)
		if r.fleet, r.fleetErr = s.cfg.Inspector.Fleet(ctx); r.fleetErr != nil {
			s.log.Warn("web: read fetch fleet", "err", r.fleetErr)
		}
	}()
	r.locks, r.err = s.inspectMany(ctx, ids)
	<-fleetDone
	return r
}

// inspectMany reads the leases of the mailboxes in one call. When that
// fails, every lock state is unknown and says why.
func (s *Server) inspectMany(ctx context.Context, ids []int64) ([]lockView, error) {
	out := make([]lockView, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	states, err := s.cfg.Inspector.InspectMany(ctx, ids)
	if err == nil && len(states) != len(ids) {
		err = fmt.Errorf("web: inspector returned %d lock states for %d mailboxes", len(states), len(ids))
	}
	if err != nil {
		s.metrics.inspect.WithLabelValues("error").Add(float64(len(ids)))
		s.log.Warn("web: inspect locks", "mailboxes", len(ids), "err", err)
		for i := range out {
			out[i] = newLockView(leaseview.State{}, err)
		}
		return out, err
	}
	s.metrics.inspect.WithLabelValues("ok").Add(float64(len(ids)))
	for i, st := range states {
		out[i] = newLockView(st, nil)
	}
	return out, nil
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
	var progress *helpdesk.RunProgress
	if err == nil {
		progress, err = s.cfg.Store.RunProgress(ctx, id)
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
		MailboxID: m.ID, Name: m.Name, Email: m.Email, Enabled: m.Enabled, Auth: newAuthView(m),
		Lock: lv, Fetch: newFetchView(m, states), Progress: newProgressView(progress), Folders: states, Runs: rs,
	}, nil
}
