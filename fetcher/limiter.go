package fetcher

import (
	"context"

	"golang.org/x/sync/semaphore"
)

// limiter bounds what costs while an instance watches its mailboxes:
// bodies being downloaded (by count and by bytes, from the sizes the
// header phase already knows) and logins, so that a thousand mailboxes do
// not all log in at once. An open session waiting in IDLE or for its next
// poll costs neither and is not limited. A nil *limiter limits nothing (a
// one-shot fetch).
type limiter struct {
	downloads *semaphore.Weighted
	bytes     *semaphore.Weighted
	maxBytes  int64
	logins    *semaphore.Weighted
	metrics   *Metrics
}

// maxLogins is how many logins an instance makes at once.
const maxLogins = 16

func newLimiter(concurrency int, maxBytes int64, m *Metrics) *limiter {
	return &limiter{
		downloads: semaphore.NewWeighted(int64(concurrency)),
		bytes:     semaphore.NewWeighted(maxBytes),
		maxBytes:  maxBytes,
		logins:    semaphore.NewWeighted(maxLogins),
		metrics:   m,
	}
}

// download waits until a download of size bytes may start: one of the
// concurrent downloads and size bytes of the budget (a download larger
// than the whole budget takes all of it). It gives up when ctx ends or stop
// is closed (a graceful stop: errStopped). Call release when the bodies are
// stored.
func (l *limiter) download(ctx context.Context, stop <-chan struct{}, size int64) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	weight := min(max(size, 1), l.maxBytes)
	if err := l.downloads.Acquire(ctx, 1); err != nil {
		return nil, stoppedOr(stop, err)
	}
	if err := l.bytes.Acquire(ctx, weight); err != nil {
		l.downloads.Release(1)
		return nil, stoppedOr(stop, err)
	}
	l.metrics.downloadStarted(weight)
	return func() {
		l.metrics.downloadEnded(weight)
		l.bytes.Release(weight)
		l.downloads.Release(1)
	}, nil
}

func stoppedOr(stop <-chan struct{}, err error) error {
	select {
	case <-stop:
		return errStopped
	default:
		return err
	}
}

// login waits for one of the logins made at once.
func (l *limiter) login(ctx context.Context) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	if err := l.logins.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	return func() { l.logins.Release(1) }, nil
}

// chunks splits a batch's downloads so that each chunk holds a fair part
// of the byte budget while it streams, not all of it: at most an eighth of
// the budget, or one message alone when it is larger. Without a limiter
// the batch is one chunk.
func (l *limiter) chunks(envs []Envelope) [][]Envelope {
	if l == nil || len(envs) == 0 {
		return [][]Envelope{envs}
	}
	limit := max(l.maxBytes/8, 1)
	var out [][]Envelope
	start, size := 0, int64(0)
	for i, e := range envs {
		if i > start && size+e.Size > limit {
			out = append(out, envs[start:i])
			start, size = i, 0
		}
		size += e.Size
	}
	return append(out, envs[start:])
}

// bodyBytes is what a chunk's bodies weigh by the sizes the server announced.
func bodyBytes(envs []Envelope) int64 {
	var n int64
	for _, e := range envs {
		n += e.Size
	}
	return n
}
