package web

import (
	"context"
	"sync"
	"time"
)

// LoginAttempts counts sign-in attempts per key in fixed windows that
// start with a key's first attempt. Web instances that share one (on
// Redis) share the counts; NewLocalLoginAttempts counts in this process.
type LoginAttempts interface {
	// Add counts one attempt under key and returns the attempts in the
	// key's window so far, this one included, and the time left in it.
	Add(ctx context.Context, key string, window time.Duration) (n int64, left time.Duration, err error)
	// Undo takes back one attempt counted under key while its window
	// lasts (a sign-in that succeeded, or a password never checked).
	Undo(ctx context.Context, key string) error
	// Hold takes key for d if nobody holds it and returns 0, else the
	// time left on the current hold.
	Hold(ctx context.Context, key string, d time.Duration) (left time.Duration, err error)
}

// localAttempts is LoginAttempts in this process.
type localAttempts struct {
	now func() time.Time

	mu      sync.Mutex
	windows map[string]*attemptWindow
}

type attemptWindow struct {
	n   int64
	end time.Time
}

// maxLocalKeys bounds memory under a spray of addresses: past it,
// ended windows are dropped.
const maxLocalKeys = 100_000

// NewLocalLoginAttempts counts sign-in attempts in this process.
func NewLocalLoginAttempts() LoginAttempts { return newLocalAttempts(time.Now) }

func newLocalAttempts(now func() time.Time) *localAttempts {
	return &localAttempts{now: now, windows: map[string]*attemptWindow{}}
}

func (l *localAttempts) Add(_ context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.open(now, key)
	if w == nil {
		w = l.start(now, key, window)
	}
	w.n++
	return w.n, w.end.Sub(now), nil
}

func (l *localAttempts) Undo(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.open(l.now(), key); w != nil && w.n > 0 {
		w.n--
	}
	return nil
}

func (l *localAttempts) Hold(_ context.Context, key string, d time.Duration) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if w := l.open(now, key); w != nil {
		return w.end.Sub(now), nil
	}
	l.start(now, key, d)
	return 0, nil
}

// open is key's window if it has not ended.
func (l *localAttempts) open(now time.Time, key string) *attemptWindow {
	w := l.windows[key]
	if w == nil || !now.Before(w.end) {
		return nil
	}
	return w
}

func (l *localAttempts) start(now time.Time, key string, d time.Duration) *attemptWindow {
	if len(l.windows) >= maxLocalKeys {
		for k, w := range l.windows {
			if !now.Before(w.end) {
				delete(l.windows, k)
			}
		}
	}
	w := &attemptWindow{end: now.Add(d)}
	l.windows[key] = w
	return w
}
