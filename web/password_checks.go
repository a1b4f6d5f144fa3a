package web

import (
	"context"
	"errors"
	"time"
)

// passwordChecks bounds the password hashes computed at once: each check
// is argon2id over about 19 MiB, so a burst of sign-ins must queue, not
// pile up memory. A request that would queue longer than wait is turned
// away instead.
type passwordChecks struct {
	slots chan struct{}
	wait  time.Duration
}

var errPasswordChecksBusy = errors.New("too many password checks at once")

func newPasswordChecks(n int, wait time.Duration) passwordChecks {
	return passwordChecks{slots: make(chan struct{}, n), wait: wait}
}

// acquire waits for a slot; call release when the check is done.
func (p passwordChecks) acquire(ctx context.Context) (release func(), err error) {
	timer := time.NewTimer(p.wait)
	defer timer.Stop()
	select {
	case p.slots <- struct{}{}:
		return func() { <-p.slots }, nil
	case <-timer.C:
		return nil, errPasswordChecksBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
