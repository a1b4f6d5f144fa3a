package locks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// renewFunc renews leases of one Locker in one round trip. The i-th error
// is that of leases[i]: nil, errNotHeld when the lease is not ours any
// more, or a transient failure.
type renewFunc func(ctx context.Context, leases []leaseBackend) []error

// renewal is a Locker's one renewal loop. Every interval (TTL/3) it renews
// all the Locker's live leases in one round trip, so an instance pays one
// round trip per tick and one renewal per lease per interval, however many
// leases it holds (at TTL 30 s: 6 renewals per lease per minute).
//
// Every live lease is renewed on every tick, including a lease obtained
// just before the tick: that early renewal costs one command, and it lines
// the lease up with the others instead of giving it a schedule and a round
// trip of its own. A lease obtained just after a tick waits for the next
// one, so no lease goes longer than interval (a third of the TTL) without a
// renewal, as when each lease had its own heartbeat.
//
// A transient failure is retried soon (retryBackoff), a bounded number of
// times (maxRetries), for the leases that failed only; then they wait for
// the next tick. The local deadline ends a lease that no renewal reaches.
// The loop runs while the Locker holds leases and ends with the last one.
type renewal struct {
	renew   renewFunc
	timing  timing
	metrics *Metrics

	mu      sync.Mutex
	leases  map[*Lease]int // live leases and their consecutive failed renewals
	running bool           // the loop runs; it ends when leases is empty
}

func newRenewal(renew renewFunc, t timing, m *Metrics) *renewal {
	return &renewal{renew: renew, timing: t, metrics: m, leases: make(map[*Lease]int)}
}

// deadlineAfter is the local deadline of a lease renewed (or obtained) by
// a call sent at sent: the server's TTL started after sent.
func (r *renewal) deadlineAfter(sent time.Time) time.Time {
	return sent.Add(r.timing.ttl - r.timing.margin)
}

func (r *renewal) add(l *Lease) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leases[l] = 0
	if !r.running {
		r.running = true
		go r.loop()
	}
}

// remove stops renewing l; a renewal of it in flight is ignored.
func (r *renewal) remove(l *Lease) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.leases, l)
}

func (r *renewal) loop() {
	nextTick := time.Now().Add(r.timing.interval)
	timer := time.NewTimer(r.timing.interval)
	defer timer.Stop()
	for range timer.C {
		tick := !time.Now().Before(nextTick)
		if tick {
			nextTick = time.Now().Add(r.timing.interval)
		}
		batch, ok := r.due(tick)
		if !ok {
			return
		}
		wait := time.Until(nextTick)
		if len(batch) > 0 && r.renewBatch(batch) {
			wait = min(wait, r.timing.retryBackoff)
		}
		timer.Reset(wait)
	}
}

// due lists the leases to renew now: all of them on a tick, else those
// waiting for a retry. ok is false when there are no leases left, and the
// loop is then over.
func (r *renewal) due(tick bool) (batch []*Lease, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.leases) == 0 {
		r.running = false
		return nil, false
	}
	for l, failures := range r.leases {
		if tick || failures > 0 {
			batch = append(batch, l)
		}
	}
	return batch, true
}

// renewBatch renews batch in one round trip and reports whether some of
// its leases are to be retried soon.
func (r *renewal) renewBatch(batch []*Lease) (retry bool) {
	backends := make([]leaseBackend, len(batch))
	for i, l := range batch {
		backends[i] = l.backend
	}
	sent := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), r.timing.callTimeout)
	errs := r.renew(ctx, backends)
	cancel()
	r.metrics.refreshed(time.Since(sent))
	for i, l := range batch {
		switch err := errs[i]; {
		case err == nil:
			l.renewed(sent)
		case errors.Is(err, errNotHeld):
			l.lose(fmt.Errorf("%w: mailbox %d: renewal found the lock deleted or taken over", ErrLost, l.mailboxID))
		default:
			l.renewFailed(err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, l := range batch {
		failures, live := r.leases[l]
		if !live {
			continue // lost, or released while the call was in flight
		}
		switch {
		case errs[i] == nil:
			failures = 0
		case failures < r.timing.maxRetries:
			failures++
			retry = true
		default:
			failures = 0 // retries used up: back to the normal pace
		}
		r.leases[l] = failures
	}
	return retry
}
