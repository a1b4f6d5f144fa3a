package fetcher

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/oauth"
	"github.com/helpdesk/helpdesk/helpdesk/store"
)

// Config is what every run of the fetcher shares.
type Config struct {
	TLSConfig *tls.Config // nil: system roots
	BatchSize int         // UIDs per header/body round; default 500
	Holder    string      // who runs, for fetch_runs ("host/pid/instance")
	Logger    *slog.Logger
	Metrics   *Metrics // optional
	// Tokens hands out the access tokens of OAuth2 mailboxes; share one
	// with the notifier in a process. nil: the fetcher makes its own.
	Tokens *oauth.Tokens
}

// Fetcher runs fetches of mailboxes into the store.
type Fetcher struct {
	store  *store.Store
	cfg    Config
	log    *slog.Logger
	tokens *oauth.Tokens
}

// New returns a Fetcher; cfg's zero values get defaults.
func New(store *store.Store, cfg Config) *Fetcher {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Tokens == nil {
		cfg.Tokens = oauth.NewTokens(store, nil, cfg.Logger)
	}
	return &Fetcher{store: store, cfg: cfg, log: cfg.Logger, tokens: cfg.Tokens}
}

// Job is one run over one mailbox under a claimed fence.
type Job struct {
	MailboxID int64
	Fence     int64
	Trigger   string // schedule, manual, idle, cli
	// Progress, if set, is told how far a folder's run has got, after
	// each batch. (The store is told too: SaveRunProgress.)
	Progress func(folder string, done, total int)
	// limits bounds the downloads of the service's runs (nil: unbounded).
	limits *limiter
}

// Summary counts what a run did.
type Summary struct {
	MailboxID   int64 `json:"mailbox"`
	New         int   `json:"new"`
	Duplicates  int   `json:"duplicates"`
	Quarantined int   `json:"quarantined"`
}

// errStopped ends a run early on a graceful stop request.
var errStopped = errors.New("fetch stopped on request")

// Run dials the mailbox and fetches every folder once. ctx is the lease's
// context: when it ends, the connection closes and nothing more is written.
// stop asks for a graceful end: the current message is finished and
// committed, then Run returns.
func (f *Fetcher) Run(ctx context.Context, stop <-chan struct{}, job Job) (Summary, error) {
	m, err := f.store.Mailbox(ctx, job.MailboxID)
	if err != nil {
		return Summary{MailboxID: job.MailboxID}, err
	}
	s, err := f.dial(ctx, m)
	if err != nil {
		f.newRun(stop, nil, m, job).recordFailure(ctx, err)
		return Summary{MailboxID: job.MailboxID}, err
	}
	defer s.Close()
	return f.RunSession(ctx, stop, s, m, job)
}

// run is one run of the fetcher over one mailbox: its session, the handle
// every write goes through (one mailbox, one fence), and what it has done.
type run struct {
	*Fetcher
	h    *store.FetchHandle
	s    *Session
	m    *helpdesk.Mailbox
	job  Job
	stop <-chan struct{}
	sum  Summary
}

func (f *Fetcher) newRun(stop <-chan struct{}, s *Session, m *helpdesk.Mailbox, job Job) *run {
	return &run{Fetcher: f, h: f.store.FetchHandle(m.ID, job.Fence), s: s, m: m, job: job, stop: stop,
		sum: Summary{MailboxID: m.ID}}
}

// RunSession fetches every folder of m over an open session (the service
// keeps one open between IDLE wake-ups).
func (f *Fetcher) RunSession(ctx context.Context, stop <-chan struct{}, s *Session, m *helpdesk.Mailbox, job Job) (Summary, error) {
	r := f.newRun(stop, s, m, job)
	err := r.all(ctx)
	return r.sum, err
}

// all is the run from start to finish: retries first, then each folder.
func (r *run) all(ctx context.Context) error {
	started := time.Now()
	runID, err := r.h.StartRun(ctx, r.job.Trigger, r.cfg.Holder)
	if err != nil {
		return err
	}
	runErr := r.retryQuarantined(ctx)
	for _, folder := range r.m.Folders {
		if runErr != nil {
			break
		}
		folderErr := r.folder(ctx, folder)
		if errors.Is(folderErr, errStopped) {
			runErr = folderErr
			break
		}
		if err := r.h.RecordResult(ctx, folder, folderErr); err != nil {
			runErr = errors.Join(folderErr, err)
			break
		}
		runErr = folderErr
	}
	finished := helpdesk.FetchRun{ID: runID, MailboxID: r.m.ID, New: r.sum.New, Duplicates: r.sum.Duplicates, Quarantined: r.sum.Quarantined}
	if runErr != nil && !errors.Is(runErr, errStopped) {
		finished.Error = runErr.Error()
	}
	if err := r.h.FinishRun(ctx, finished); err != nil && runErr == nil {
		runErr = err
	}
	r.cfg.Metrics.observeRun(r.job.Trigger, time.Since(started), runErr)
	if errors.Is(runErr, errStopped) {
		runErr = nil
	}
	if ctx.Err() != nil && runErr != nil {
		runErr = fmt.Errorf("lease lost during fetch: %w", runErr)
	}
	return runErr
}

// recordFailure notes a run that failed before it could select a folder
// (connect or login), so the status page shows the scheduled path failing.
func (r *run) recordFailure(ctx context.Context, cause error) {
	runID, err := r.h.StartRun(ctx, r.job.Trigger, r.cfg.Holder)
	if err != nil {
		return
	}
	for _, folder := range r.m.Folders {
		if r.h.RecordResult(ctx, folder, cause) != nil {
			return
		}
	}
	r.h.FinishRun(ctx, helpdesk.FetchRun{ID: runID, MailboxID: r.m.ID, Error: cause.Error()})
	r.cfg.Metrics.observeRun(r.job.Trigger, 0, cause)
}

// folder brings one folder up to date, batch by batch.
func (r *run) folder(ctx context.Context, name string) error {
	folder, err := r.s.Select(name)
	if err != nil {
		return err
	}
	st, err := r.h.State(ctx, name)
	if err != nil {
		return err
	}
	last := st.LastUID
	if st.UIDValidity != 0 && st.UIDValidity != folder.UIDValidity {
		// The folder was recreated: UIDs start over. Fetch it all again;
		// dedup keys turn mail we already have into duplicates.
		r.log.Warn("UIDVALIDITY changed, refetching folder", "mailbox", r.m.ID, "folder", name,
			"old", st.UIDValidity, "new", folder.UIDValidity)
		last = 0
	}
	if st.UIDValidity != folder.UIDValidity {
		if st.ImportUID, err = r.startFolder(ctx, folder); err != nil {
			return err
		}
	}
	// Until the first batch is done (even across a crash), this is the
	// first import, which may be limited to recent mail.
	var since *time.Time
	if last == 0 {
		since = r.m.ImportSince
	}
	uids, err := r.s.UIDsAfter(last, since)
	if err != nil {
		return err
	}
	progress := helpdesk.RunProgress{Folder: name, Total: len(uids), StartedAt: time.Now()}
	if err := r.saveProgress(ctx, progress); err != nil {
		return err
	}
	for start := 0; start < len(uids); start += r.cfg.BatchSize {
		batch := uids[start:min(start+r.cfg.BatchSize, len(uids))]
		if err := r.batch(ctx, folder, st.ImportUID, batch); err != nil {
			return err
		}
		progress.Done = start + len(batch)
		if err := r.saveProgress(ctx, progress); err != nil {
			return err
		}
		if r.job.Progress != nil {
			r.job.Progress(name, progress.Done, progress.Total)
		}
	}
	// Every UID below UIDNEXT at SELECT existed then, so the search saw it
	// or it is gone (or, on a first import, older than ImportSince). Saving
	// that much means a later SELECT with a higher UIDNEXT tells new mail
	// arrived, and a limited first import never fetches old mail later.
	seen := last
	if len(uids) > 0 {
		seen = uids[len(uids)-1]
	}
	if folder.UIDNext > 0 && folder.UIDNext-1 > seen {
		return r.h.SaveProgress(ctx, name, folder.UIDValidity, folder.UIDNext-1)
	}
	return nil
}

// startFolder records a folder selected for the first time (or under a new
// UIDVALIDITY) and returns the highest UID it holds: mail up to it is the
// first import, stored without notifications or auto-acks. It is saved
// before anything is stored, so a run that dies part-way through the
// import leaves the rest of it import for the next run.
func (r *run) startFolder(ctx context.Context, folder Folder) (uint32, error) {
	var importUID uint32
	if folder.UIDNext > 0 {
		importUID = folder.UIDNext - 1
	}
	if err := r.h.StartFolder(ctx, folder.Name, folder.UIDValidity, importUID); err != nil {
		return 0, err
	}
	if importUID > 0 {
		r.log.Info("first import of folder: mail already there is stored without notifications or auto-acks",
			"mailbox", r.m.ID, "folder", folder.Name, "up_to_uid", importUID)
	}
	return importUID, nil
}

// saveProgress stores how far the run has got through a folder that takes
// more than one batch, where the status page and the API of any process
// read it: at the start and after each batch, so one small write per
// batch, and none for the usual run over a few new messages. FinishRun
// clears it.
func (r *run) saveProgress(ctx context.Context, p helpdesk.RunProgress) error {
	if p.Total <= r.cfg.BatchSize {
		return nil
	}
	p.UpdatedAt = time.Now()
	return r.h.SaveRunProgress(ctx, p)
}

// arrivedSince tells whether a folder just selected holds mail that came
// after the last run's SELECT: a SELECT reports it in its answer, not as
// the EXISTS that would end IDLE.
func arrivedSince(ctx context.Context, h *store.FetchHandle, folder Folder) (bool, error) {
	st, err := h.State(ctx, folder.Name)
	if err != nil {
		return false, err
	}
	return folder.UIDValidity != st.UIDValidity || folder.UIDNext > st.LastUID+1, nil
}

// batch handles one batch of UIDs: the header-only phase decides what to
// download, the bodies go through the download-parse-store pipeline
// (store.go), and only once they are committed is anything done to them on
// the server. UIDs up to importUID are the folder's first import.
func (r *run) batch(ctx context.Context, folder Folder, importUID uint32, uids []uint32) error {
	envs, err := r.s.Envelopes(uids)
	if err != nil {
		return err
	}
	plan, err := r.plan(ctx, folder, envs)
	if err != nil {
		return err
	}
	if err := r.h.RecordDuplicates(ctx, folder.Name, folder.UIDValidity, plan.duplicates); err != nil {
		return err
	}
	r.sum.Duplicates += len(plan.duplicates)
	r.cfg.Metrics.countMessages(helpdesk.OutcomeDuplicate, len(plan.duplicates))
	for _, env := range plan.tooLarge {
		if err := r.quarantineTooLarge(ctx, folder, env); err != nil {
			return err
		}
		r.sum.Quarantined++
		r.cfg.Metrics.countMessages(helpdesk.OutcomeQuarantined, 1)
	}
	committed, err := r.download(ctx, folder, importUID, plan.download)
	if err != nil {
		return err
	}
	if err := r.afterFetch(append(plan.done, committed...)); err != nil {
		return err
	}
	return r.h.SaveProgress(ctx, folder.Name, folder.UIDValidity, uids[len(uids)-1])
}

// download ingests the bodies of a batch's new messages, chunk by chunk,
// each once the limiter lets it start, and returns the UIDs committed.
func (r *run) download(ctx context.Context, folder Folder, importUID uint32, envs []Envelope) ([]uint32, error) {
	var committed []uint32
	for _, chunk := range r.job.limits.chunks(envs) {
		if len(chunk) == 0 {
			continue
		}
		release, err := r.job.limits.download(ctx, r.stop, bodyBytes(chunk))
		if err != nil {
			return committed, err
		}
		uids := make([]uint32, len(chunk))
		for i, e := range chunk {
			uids[i] = e.UID
		}
		stored, err := r.ingestBodies(ctx, folder, importUID, uids)
		release()
		committed = append(committed, stored...)
		if err != nil {
			return committed, err
		}
	}
	return committed, nil
}

// batchPlan sorts a batch's messages by what to do with them.
type batchPlan struct {
	download   []Envelope           // new and small enough: fetch the body
	duplicates []helpdesk.Duplicate // a copy of a stored mail
	tooLarge   []Envelope           // over the mailbox's size limit
	done       []uint32             // stored by an earlier run (after-fetch may still be due)
}

func (r *run) plan(ctx context.Context, folder Folder, envs []Envelope) (batchPlan, error) {
	var p batchPlan
	uids := make([]uint32, len(envs))
	var keys []string
	for i, e := range envs {
		uids[i] = e.UID
		if e.DedupKey != "" {
			keys = append(keys, e.DedupKey)
		}
	}
	seen, err := r.h.SeenUIDs(ctx, folder.Name, folder.UIDValidity, uids)
	if err != nil {
		return p, err
	}
	stored, err := r.h.StoredDedupKeys(ctx, keys)
	if err != nil {
		return p, err
	}
	for _, e := range envs {
		switch outcome, ok := seen[e.UID]; {
		case ok && outcome != helpdesk.OutcomeQuarantined:
			p.done = append(p.done, e.UID)
		case ok:
			// quarantined: left alone on the server until resolved
		case e.DedupKey != "" && stored[e.DedupKey]:
			p.duplicates = append(p.duplicates, helpdesk.Duplicate{UID: e.UID, DedupKey: e.DedupKey})
			p.done = append(p.done, e.UID)
		case e.Size > r.m.MaxMessageBytes:
			p.tooLarge = append(p.tooLarge, e)
		default:
			p.download = append(p.download, e)
		}
	}
	return p, nil
}

func (r *run) quarantineTooLarge(ctx context.Context, folder Folder, env Envelope) error {
	header, err := r.s.Header(env.UID)
	if err != nil {
		return err
	}
	reason := fmt.Sprintf("too large: %d bytes, the mailbox's limit is %d (header kept; retry downloads it whole)", env.Size, r.m.MaxMessageBytes)
	return r.h.Quarantine(ctx, r.h.Source(folder.Name, folder.UIDValidity, env.UID), header, env.Size, false, reason)
}

// afterFetch runs the mailbox's after-fetch action on committed messages.
func (r *run) afterFetch(uids []uint32) error {
	switch r.m.AfterFetch {
	case "seen":
		return r.s.MarkSeen(uids)
	case "move":
		return r.s.Move(uids, r.m.MoveToFolder)
	}
	return nil
}

func (s *Summary) add(o helpdesk.Outcome) {
	switch o {
	case helpdesk.OutcomeNew:
		s.New++
	case helpdesk.OutcomeDuplicate:
		s.Duplicates++
	case helpdesk.OutcomeQuarantined:
		s.Quarantined++
	}
}
