package web

import (
	"context"
	"errors"
	"time"
)

// loginLimiter decides whether a sign-in attempt may have its password
// checked. Every attempt is counted before the check, atomically, so
// parallel requests cannot all pass a check that none has counted yet:
//
//   - per client address: addressLimit attempts per window;
//   - per account and address: accountLimit attempts per window, so
//     failures from one address never lock the account elsewhere;
//   - per account, from all addresses together: past accountLimit
//     attempts in the window, one attempt per backoff interval, doubling
//     up to maxBackoffDoublings times. The right password from another
//     address gets through after that wait: a backoff, not a lock.
//
// A sign-in that succeeds, or whose password was never checked, is taken
// back, so an office behind one address is not limited by its own users.
type loginLimiter struct {
	attempts     LoginAttempts
	window       time.Duration
	addressLimit int64
	accountLimit int64
	backoff      time.Duration
}

// maxBackoffDoublings caps the per-account backoff (64 × its first step).
const maxBackoffDoublings = 6

// loginTry is one counted attempt: the keys to take back if it does not
// count as a failure.
type loginTry struct {
	keys []string
}

// admit counts an attempt from addr at account email. A refused attempt
// comes back with how long to wait before trying again.
func (l *loginLimiter) admit(ctx context.Context, addr, email string) (try loginTry, wait time.Duration, err error) {
	for _, k := range []struct {
		key   string
		limit int64
	}{
		{"addr:" + addr, l.addressLimit},
		{"account-addr:" + addr + " " + email, l.accountLimit},
	} {
		n, left, err := l.count(ctx, &try, k.key)
		if err != nil || n > k.limit {
			return try, left, err
		}
	}
	n, _, err := l.count(ctx, &try, "account:"+email)
	if err != nil || n <= l.accountLimit {
		return try, 0, err
	}
	wait, err = l.attempts.Hold(ctx, "backoff:"+email, l.backoffAt(n-l.accountLimit))
	return try, wait, err
}

// count adds the attempt under key to try.
func (l *loginLimiter) count(ctx context.Context, try *loginTry, key string) (int64, time.Duration, error) {
	n, left, err := l.attempts.Add(ctx, key, l.window)
	if err == nil {
		try.keys = append(try.keys, key)
	}
	return n, left, err
}

// backoffAt is the wait after the excess-th attempt past the account's limit.
func (l *loginLimiter) backoffAt(excess int64) time.Duration {
	return l.backoff << min(excess-1, maxBackoffDoublings)
}

// takeBack uncounts an attempt that succeeded or was never checked.
func (l *loginLimiter) takeBack(ctx context.Context, try loginTry) error {
	var errs []error
	for _, k := range try.keys {
		errs = append(errs, l.attempts.Undo(ctx, k))
	}
	return errors.Join(errs...)
}
