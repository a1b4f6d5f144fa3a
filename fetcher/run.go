package fetcher

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
)

// Config is what every run of the fetcher shares.
type Config struct {
	TLSConfig *tls.Config // nil: system roots
	BatchSize int         // UIDs per header/body round; default 500
	Holder    string      // who runs, for fetch_runs ("host/pid/instance")
	Logger    *slog.Logger
	Metrics   *Metrics // optional
}

// Fetcher runs fetches of mailboxes into the store.
type Fetcher struct {
	store *store.Store
	cfg   Config
	log   *slog.Logger
}

// New returns a Fetcher; cfg's zero values get defaults.
func New(store *store.Store, cfg Config) *Fetcher {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Fetcher{store: store, cfg: cfg, log: cfg.Logger}
}

// Job is one run over one mailbox under a claimed fence.
type Job struct {
	MailboxID int64
	Fence     int64
	Trigger   string // schedule, manual, idle, cli
	// Progress, if set, is told how far a folder's run has got.
	Progress func(folder string, done, total int)
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
	password, err := f.store.IMAPPassword(m)
	if err != nil {
		return Summary{MailboxID: job.MailboxID}, err
	}
	s, err := Dial(ctx, m, password, f.cfg.TLSConfig)
	if err != nil {
		f.recordFailure(ctx, job, m, err)
		return Summary{MailboxID: job.MailboxID}, err
	}
	defer s.Close()
	return f.RunSession(ctx, stop, s, m, job)
}

// RunSession fetches every folder of m over an open session (the service
// keeps one open between IDLE wake-ups).
func (f *Fetcher) RunSession(ctx context.Context, stop <-chan struct{}, s *Session, m *helpdesk.Mailbox, job Job) (Summary, error) {
	started := time.Now()
	sum := Summary{MailboxID: m.ID}
	runID, err := f.store.StartRun(ctx, job.Fence, m.ID, job.Trigger, f.cfg.Holder)
	if err != nil {
		return sum, err
	}
	runErr := f.retryQuarantined(ctx, s, m, job, &sum)
	for _, folder := range m.Folders {
		if runErr != nil {
			break
		}
		folderErr := f.fetchFolder(ctx, stop, s, m, folder, job, &sum)
		if errors.Is(folderErr, errStopped) {
			runErr = folderErr
			break
		}
		if err := f.store.RecordFetchResult(ctx, job.Fence, m.ID, folder, folderErr); err != nil {
			runErr = errors.Join(folderErr, err)
			break
		}
		runErr = folderErr
	}
	run := helpdesk.FetchRun{ID: runID, MailboxID: m.ID, New: sum.New, Duplicates: sum.Duplicates, Quarantined: sum.Quarantined}
	if runErr != nil && !errors.Is(runErr, errStopped) {
		run.Error = runErr.Error()
	}
	if err := f.store.FinishRun(ctx, job.Fence, run); err != nil && runErr == nil {
		runErr = err
	}
	f.cfg.Metrics.observeRun(job.Trigger, time.Since(started), runErr)
	if errors.Is(runErr, errStopped) {
		runErr = nil
	}
	if ctx.Err() != nil && runErr != nil {
		runErr = fmt.Errorf("lease lost during fetch: %w", runErr)
	}
	return sum, runErr
}

// recordFailure notes a run that failed before it could select a folder
// (connect or login), so the status page shows the scheduled path failing.
func (f *Fetcher) recordFailure(ctx context.Context, job Job, m *helpdesk.Mailbox, cause error) {
	runID, err := f.store.StartRun(ctx, job.Fence, m.ID, job.Trigger, f.cfg.Holder)
	if err != nil {
		return
	}
	for _, folder := range m.Folders {
		if f.store.RecordFetchResult(ctx, job.Fence, m.ID, folder, cause) != nil {
			return
		}
	}
	f.store.FinishRun(ctx, job.Fence, helpdesk.FetchRun{ID: runID, MailboxID: m.ID, Error: cause.Error()})
	f.cfg.Metrics.observeRun(job.Trigger, 0, cause)
}

// fetchFolder brings one folder up to date, batch by batch.
func (f *Fetcher) fetchFolder(ctx context.Context, stop <-chan struct{}, s *Session, m *helpdesk.Mailbox, name string, job Job, sum *Summary) error {
	folder, err := s.Select(name)
	if err != nil {
		return err
	}
	st, err := f.store.FetchState(ctx, m.ID, name)
	if err != nil {
		return err
	}
	last := st.LastUID
	if st.UIDValidity != 0 && st.UIDValidity != folder.UIDValidity {
		// The folder was recreated: UIDs start over. Fetch it all again;
		// dedup keys turn mail we already have into duplicates.
		f.log.Warn("UIDVALIDITY changed, refetching folder", "mailbox", m.ID, "folder", name,
			"old", st.UIDValidity, "new", folder.UIDValidity)
		last = 0
	}
	if st.UIDValidity != folder.UIDValidity {
		if err := f.store.SaveFetchProgress(ctx, job.Fence, m.ID, name, folder.UIDValidity, 0); err != nil {
			return err
		}
	}
	// Until the first batch is done (even across a crash), this is the
	// first import, which may be limited to recent mail.
	var since *time.Time
	if last == 0 {
		since = m.ImportSince
	}
	uids, err := s.UIDsAfter(last, since)
	if err != nil {
		return err
	}
	for start := 0; start < len(uids); start += f.cfg.BatchSize {
		batch := uids[start:min(start+f.cfg.BatchSize, len(uids))]
		if err := f.fetchBatch(ctx, stop, s, m, folder, batch, job, sum); err != nil {
			return err
		}
		if job.Progress != nil {
			job.Progress(name, start+len(batch), len(uids))
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
		return f.store.SaveFetchProgress(ctx, job.Fence, m.ID, name, folder.UIDValidity, folder.UIDNext-1)
	}
	return nil
}

// arrivedSince tells whether a folder just selected holds mail that came
// after the last run's SELECT: a SELECT reports it in its answer, not as
// the EXISTS that would end IDLE.
func (f *Fetcher) arrivedSince(ctx context.Context, mailboxID int64, folder Folder) (bool, error) {
	st, err := f.store.FetchState(ctx, mailboxID, folder.Name)
	if err != nil {
		return false, err
	}
	return folder.UIDValidity != st.UIDValidity || folder.UIDNext > st.LastUID+1, nil
}

// fetchBatch handles one batch of UIDs: the header-only phase decides what
// to download, the bodies go through the download-parse-store pipeline
// (store.go), and only once they are committed is anything done to them on
// the server.
func (f *Fetcher) fetchBatch(ctx context.Context, stop <-chan struct{}, s *Session, m *helpdesk.Mailbox, folder Folder, uids []uint32, job Job, sum *Summary) error {
	envs, err := s.Envelopes(uids)
	if err != nil {
		return err
	}
	plan, err := f.plan(ctx, m, folder, envs)
	if err != nil {
		return err
	}
	if err := f.store.RecordDuplicates(ctx, job.Fence, m.ID, folder.Name, folder.UIDValidity, plan.duplicates); err != nil {
		return err
	}
	sum.Duplicates += len(plan.duplicates)
	f.cfg.Metrics.countMessages(helpdesk.OutcomeDuplicate, len(plan.duplicates))
	for _, env := range plan.tooLarge {
		if err := f.quarantineTooLarge(ctx, s, m, folder, env, job.Fence); err != nil {
			return err
		}
		sum.Quarantined++
		f.cfg.Metrics.countMessages(helpdesk.OutcomeQuarantined, 1)
	}
	committed, err := f.ingestBodies(ctx, stop, s, m, folder, plan.download, job, sum)
	if err != nil {
		return err
	}
	stored := append(plan.done, committed...)
	if err := f.afterFetch(s, m, stored); err != nil {
		return err
	}
	return f.store.SaveFetchProgress(ctx, job.Fence, m.ID, folder.Name, folder.UIDValidity, uids[len(uids)-1])
}

// batchPlan sorts a batch's messages by what to do with them.
type batchPlan struct {
	download   []uint32             // new and small enough: fetch the body
	duplicates []helpdesk.Duplicate // a copy of a stored mail
	tooLarge   []Envelope           // over the mailbox's size limit
	done       []uint32             // stored by an earlier run (after-fetch may still be due)
}

func (f *Fetcher) plan(ctx context.Context, m *helpdesk.Mailbox, folder Folder, envs []Envelope) (batchPlan, error) {
	var p batchPlan
	uids := make([]uint32, len(envs))
	var keys []string
	for i, e := range envs {
		uids[i] = e.UID
		if e.DedupKey != "" {
			keys = append(keys, e.DedupKey)
		}
	}
	seen, err := f.store.SeenUIDs(ctx, m.ID, folder.Name, folder.UIDValidity, uids)
	if err != nil {
		return p, err
	}
	stored, err := f.store.StoredDedupKeys(ctx, m.ID, keys)
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
		case e.Size > m.MaxMessageBytes:
			p.tooLarge = append(p.tooLarge, e)
		default:
			p.download = append(p.download, e.UID)
		}
	}
	return p, nil
}

func (f *Fetcher) quarantineTooLarge(ctx context.Context, s *Session, m *helpdesk.Mailbox, folder Folder, env Envelope, fence int64) error {
	header, err := s.Header(env.UID)
	if err != nil {
		return err
	}
	src := helpdesk.MessageSource{MailboxID: m.ID, Folder: folder.Name, UIDValidity: folder.UIDValidity, UID: env.UID, Fence: fence}
	reason := fmt.Sprintf("too large: %d bytes, the mailbox's limit is %d (header kept; retry downloads it whole)", env.Size, m.MaxMessageBytes)
	return f.store.Quarantine(ctx, src, header, env.Size, false, reason)
}

// afterFetch runs the mailbox's after-fetch action on committed messages.
func (f *Fetcher) afterFetch(s *Session, m *helpdesk.Mailbox, uids []uint32) error {
	switch m.AfterFetch {
	case "seen":
		return s.MarkSeen(uids)
	case "move":
		return s.Move(uids, m.MoveToFolder)
	}
	return nil
}

// retryQuarantined tries again the quarantined messages an admin asked to
// retry: from the stored bytes, or downloaded whole when only the header
// was kept.
func (f *Fetcher) retryQuarantined(ctx context.Context, s *Session, m *helpdesk.Mailbox, job Job, sum *Summary) error {
	qs, err := f.store.QuarantinedForRetry(ctx, m.ID)
	if err != nil {
		return err
	}
	for _, q := range qs {
		src := helpdesk.MessageSource{MailboxID: m.ID, Folder: q.Folder, UIDValidity: q.UIDValidity, UID: q.UID, Fence: job.Fence, QuarantineID: q.ID}
		raw, err := f.quarantinedBytes(ctx, s, q)
		if err != nil {
			if qerr := f.store.Quarantine(ctx, src, nil, q.Size, false, "retry failed: "+err.Error()); qerr != nil {
				return qerr
			}
			continue
		}
		fm := fetchedMessage{src: src, raw: raw, size: q.Size}
		fm.parse()
		outcome, err := f.storeAlone(ctx, fm)
		if err != nil {
			return err
		}
		if outcome == helpdesk.OutcomeNew {
			sum.New++
		}
	}
	return nil
}

func (f *Fetcher) quarantinedBytes(ctx context.Context, s *Session, q helpdesk.QuarantinedMessage) ([]byte, error) {
	if q.RawComplete {
		return f.store.RawMessage(ctx, q.RawID)
	}
	folder, err := s.Select(q.Folder)
	if err != nil {
		return nil, err
	}
	if folder.UIDValidity != q.UIDValidity {
		return nil, fmt.Errorf("folder %q was recreated (UIDVALIDITY %d, was %d): the message is fetched again under its new UID", q.Folder, folder.UIDValidity, q.UIDValidity)
	}
	var raw []byte
	err = s.Bodies([]uint32{q.UID}, func(_ uint32, b []byte) error { raw = b; return nil })
	if err == nil && raw == nil {
		err = fmt.Errorf("uid %d is no longer in folder %q", q.UID, q.Folder)
	}
	return raw, err
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
