package web

import (
	"context"
	"math"
	"sync"
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

// mailboxStatus is one mailbox on the status page and in the API.
type mailboxStatus struct {
	MailboxID int64                 `json:"mailbox_id"`
	Name      string                `json:"name"`
	Email     string                `json:"email"`
	Enabled   bool                  `json:"enabled"`
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
		MailboxID: m.ID, Name: m.Name, Email: m.Email, Enabled: m.Enabled,
		Lock: lv, Fetch: newFetchView(m, states), Progress: newProgressView(progress), Folders: states, Runs: rs,
	}, nil
}
