package web

import (
	"sync"
	"time"
)

// loginLimiter counts failed sign-ins per key (client address, e-mail
// address) in a fixed window; a key at the limit is refused until its
// window ends, even with the right password.
type loginLimiter struct {
	limit  int
	window time.Duration

	mu       sync.Mutex
	failures map[string]*failureWindow
}

type failureWindow struct {
	start time.Time
	n     int
}

func newLoginLimiter(limit int, window time.Duration) *loginLimiter {
	return &loginLimiter{limit: limit, window: window, failures: map[string]*failureWindow{}}
}

// blocked returns how long until the first of keys that is at its limit
// may try again; 0 when none is.
func (l *loginLimiter) blocked(now time.Time, keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		w := l.failures[k]
		if w == nil {
			continue
		}
		if end := w.start.Add(l.window); !now.Before(end) {
			delete(l.failures, k)
		} else if w.n >= l.limit {
			wait = max(wait, end.Sub(now))
		}
	}
	return wait
}

func (l *loginLimiter) fail(now time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) > 100_000 { // bound memory under a spray of addresses
		for k, w := range l.failures {
			if !now.Before(w.start.Add(l.window)) {
				delete(l.failures, k)
			}
		}
	}
	for _, k := range keys {
		w := l.failures[k]
		if w == nil || !now.Before(w.start.Add(l.window)) {
			w = &failureWindow{start: now}
			l.failures[k] = w
		}
		w.n++
	}
}

func (l *loginLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}
