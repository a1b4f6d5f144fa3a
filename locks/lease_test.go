package locks

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// testTTL is short so loss and expiry tests run in about a second.
const testTTL = 600 * time.Millisecond

// backend is one Locker implementation plus the ways tests reach behind it.
type backend struct {
	name    string
	metrics *Metrics // used by every Locker the backend makes
	// locker returns a new Locker on the shared store, as another process would.
	locker func(t *testing.T, opts Options) Locker
	// pause takes the lease without renewing it: a holder that stopped.
	pause func(t *testing.T, mailboxID, fence int64) pausedLease
	// steal replaces the lock with someone else's; drop deletes it.
	steal func(t *testing.T, mailboxID int64)
	drop  func(t *testing.T, mailboxID int64)
	// stolen reports whether the thief's lock is still in place.
	stolen    func(t *testing.T, mailboxID int64) bool
	inspector func(t *testing.T) leaseview.Inspector
}

// pausedLease is a lease that nothing renews, and the ways its frozen
// holder could still try to renew or release it.
type pausedLease struct {
	renew   func(ctx context.Context) error // one renewal, as its Locker's loop makes it
	release func(ctx context.Context) error
}

// redisBackend is the Redis Locker; with perKey, on the one-command-per-key
// path it takes for clients that may spread keys over servers (Cluster),
// which cannot run here.
func redisBackend(t *testing.T, perKey bool) (backend, *testserver.Redis, *redis.Client) {
	srv := testserver.StartRedis(t)
	admin := srv.Client(t)
	m := NewMetrics()
	name := "redis"
	if perKey {
		name = "redis-per-key"
	}
	b := backend{
		name:    name,
		metrics: m,
		locker: func(t *testing.T, opts Options) Locker {
			opts.Metrics = m
			return newRedis(srv.Client(t), opts, perKey)
		},
		pause: func(t *testing.T, id, fence int64) pausedLease {
			r := newRedis(srv.Client(t), Options{TTL: testTTL}, perKey)
			b, _, _, err := r.acquire(context.Background(), id, fence)
			if err != nil {
				t.Fatal(err)
			}
			return pausedLease{
				renew:   func(ctx context.Context) error { return r.renew(ctx, []leaseBackend{b})[0] },
				release: b.release,
			}
		},
		steal: func(t *testing.T, id int64) {
			if err := admin.Set(context.Background(), leaseview.Key(id), "thief", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		},
		drop: func(t *testing.T, id int64) {
			if err := admin.Del(context.Background(), leaseview.Key(id)).Err(); err != nil {
				t.Fatal(err)
			}
		},
		stolen: func(t *testing.T, id int64) bool {
			v, err := admin.Get(context.Background(), leaseview.Key(id)).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Fatal(err)
			}
			return v == "thief"
		},
		inspector: func(t *testing.T) leaseview.Inspector { return leaseview.NewRedisInspector(srv.Client(t)) },
	}
	return b, srv, admin
}

func localBackend(t *testing.T) backend {
	m := NewMetrics()
	store := NewLocal(Options{TTL: testTTL, Metrics: m})
	var thief *localEntry
	return backend{
		name:    "local",
		metrics: m,
		// Local is one process: "another process" is another user of the store.
		locker: func(*testing.T, Options) Locker { return store },
		pause: func(t *testing.T, id, fence int64) pausedLease {
			b, _, _, err := store.acquire(context.Background(), id, fence)
			if err != nil {
				t.Fatal(err)
			}
			return pausedLease{
				renew:   func(ctx context.Context) error { return store.renew(ctx, []leaseBackend{b})[0] },
				release: b.release,
			}
		},
		steal: func(_ *testing.T, id int64) {
			store.mu.Lock()
			defer store.mu.Unlock()
			thief = &localEntry{expires: time.Now().Add(time.Minute)}
			store.held[leaseview.Key(id)] = thief
		},
		drop: func(_ *testing.T, id int64) {
			store.mu.Lock()
			defer store.mu.Unlock()
			delete(store.held, leaseview.Key(id))
		},
		stolen: func(_ *testing.T, id int64) bool {
			store.mu.Lock()
			defer store.mu.Unlock()
			return thief != nil && store.held[leaseview.Key(id)] == thief
		},
		inspector: func(*testing.T) leaseview.Inspector { return store.Inspector() },
	}
}

// forEach runs test against each implementation, in parallel.
func forEach(t *testing.T, test func(t *testing.T, b backend)) {
	t.Parallel()
	for _, name := range []string{"redis", "redis-per-key"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, _, _ := redisBackend(t, name == "redis-per-key")
			test(t, b)
		})
	}
	t.Run("local", func(t *testing.T) {
		t.Parallel()
		test(t, localBackend(t))
	})
}

// waitDone waits for ctx to end and returns how long that took.
func waitDone(t *testing.T, ctx context.Context, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return time.Since(start)
	case <-timer.C:
		t.Fatalf("context not done after %s", limit)
		return 0
	}
}

// stillHeld fails if ctx ends within d.
func stillHeld(t *testing.T, ctx context.Context, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		t.Fatalf("lease ended early: %v", context.Cause(ctx))
	case <-timer.C:
	}
}

func TestSecondObtainIsRefused(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		first := b.locker(t, Options{TTL: testTTL, Host: "alpha", PID: 11, Instance: "a1"})
		second := b.locker(t, Options{TTL: testTTL, Host: "beta", PID: 22, Instance: "b2"})

		lease, err := first.Obtain(ctx, 7, 100)
		if err != nil {
			t.Fatal(err)
		}
		defer lease.Release()
		if lease.Fence() != 100 || lease.MailboxID() != 7 {
			t.Fatalf("fence %d mailbox %d", lease.Fence(), lease.MailboxID())
		}

		_, err = second.Obtain(ctx, 7, 101)
		if !errors.Is(err, ErrHeld) {
			t.Fatalf("second Obtain: %v, want ErrHeld", err)
		}
		var held *HeldError
		if !errors.As(err, &held) || held.Holder == nil {
			t.Fatalf("second Obtain: %#v, want *HeldError with holder", err)
		}
		want := lease.Holder()
		got := *held.Holder
		if !got.AcquiredAt.Equal(want.AcquiredAt) {
			t.Errorf("holder acquired_at %v, want %v", got.AcquiredAt, want.AcquiredAt)
		}
		got.AcquiredAt = want.AcquiredAt
		if got != want {
			t.Errorf("holder %+v, want %+v", got, want)
		}
		if b.name != "local" && (got.Host != "alpha" || got.PID != 11 || got.Instance != "a1" || got.Fence != 100 || got.TTLMillis != 600) {
			t.Errorf("holder %+v does not name the first locker", got)
		}
		if !strings.Contains(err.Error(), "pid") {
			t.Errorf("error %q does not name the holder", err)
		}
		if n := counterValue(t, b.metrics.NotObtained); n != 1 {
			t.Errorf("NotObtained = %v, want 1", n)
		}

		// Other mailboxes are independent.
		other, err := second.Obtain(ctx, 8, 1)
		if err != nil {
			t.Fatal(err)
		}
		other.Release()
	})
}

func TestLeaseRenewsWhileHeld(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		lease, err := b.locker(t, Options{TTL: testTTL}).Obtain(ctx, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer lease.Release()
		// Three TTLs: without renewal the key would be gone twice over.
		stillHeld(t, lease.Context(), 3*testTTL)
		if err := lease.Err(); err != nil {
			t.Fatalf("Err = %v while held", err)
		}
		if _, err := b.locker(t, Options{TTL: testTTL}).Obtain(ctx, 1, 2); !errors.Is(err, ErrHeld) {
			t.Fatalf("Obtain after 3 TTLs: %v, want ErrHeld", err)
		}
		before := time.Now()
		st, err := b.inspector(t).Inspect(ctx, 1)
		after := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		if !st.Held || st.TTLLeft <= 0 || st.TTLLeft > testTTL {
			t.Fatalf("state %+v", st)
		}
		// The heartbeat shown is the renewal that left the key its TTL: not
		// in the future, and not older than the TTL it left. (How often
		// renewals come is what the three TTLs above prove; a bound on the
		// wall-clock age of the last one measured the scheduler of a loaded
		// machine.)
		if st.LastHeartbeat.After(after) || before.Sub(st.LastHeartbeat)+st.TTLLeft > testTTL+5*time.Millisecond {
			t.Fatalf("last heartbeat %s before the inspection with %s left, TTL %s", before.Sub(st.LastHeartbeat), st.TTLLeft, testTTL)
		}
	})
}

func TestLeaseLostBehindItsBack(t *testing.T) {
	// A renewal comes every TTL/3 (the Locker's tick) and answers within TTL/6.
	limit := testTTL/3 + testTTL/6 + 100*time.Millisecond
	for _, how := range []string{"deleted", "overwritten"} {
		t.Run(how, func(t *testing.T) {
			forEach(t, func(t *testing.T, b backend) {
				lease, err := b.locker(t, Options{TTL: testTTL}).Obtain(context.Background(), 3, 1)
				if err != nil {
					t.Fatal(err)
				}
				defer lease.Release()
				if how == "deleted" {
					b.drop(t, 3)
				} else {
					b.steal(t, 3)
				}
				took := waitDone(t, lease.Context(), 2*testTTL)
				if took > limit {
					t.Errorf("loss noticed after %s, want <= %s", took, limit)
				}
				if err := lease.Err(); !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "deleted or taken over") {
					t.Fatalf("Err = %v, want ErrLost (not held)", err)
				}
				if cause := context.Cause(lease.Context()); !errors.Is(cause, ErrLost) {
					t.Fatalf("cause = %v", cause)
				}
				if n := counterValue(t, b.metrics.Lost); n != 1 {
					t.Errorf("Lost = %v, want 1", n)
				}
				// Releasing a lost lease must not delete the new owner's lock.
				lease.Release()
				if how == "overwritten" && !b.stolen(t, 3) {
					t.Fatal("Release of a lost lease removed someone else's lock")
				}
				if !errors.Is(lease.Err(), ErrLost) {
					t.Fatalf("Err after Release = %v, want the loss", lease.Err())
				}
			})
		})
	}
}

func TestStoppedHolderExpires(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		paused := b.pause(t, 4, 1) // took the lock, then froze: no renewal
		other := b.locker(t, Options{TTL: testTTL})
		if _, err := other.Obtain(ctx, 4, 2); !errors.Is(err, ErrHeld) {
			t.Fatalf("Obtain while held: %v", err)
		}
		// Nothing signals an expiry; wait it out.
		stillHeld(t, ctx, testTTL+50*time.Millisecond)
		lease, err := other.Obtain(ctx, 4, 2)
		if err != nil {
			t.Fatalf("Obtain after expiry: %v", err)
		}
		defer lease.Release()
		// The frozen holder wakes up: it can neither renew nor release the new lease.
		if err := paused.renew(ctx); !errors.Is(err, errNotHeld) {
			t.Fatalf("stale renewal: %v, want errNotHeld", err)
		}
		if err := paused.release(ctx); !errors.Is(err, errNotHeld) {
			t.Fatalf("stale release: %v, want errNotHeld", err)
		}
		if _, err := other.Obtain(ctx, 4, 3); !errors.Is(err, ErrHeld) {
			t.Fatalf("new lease was disturbed by the stale holder: %v", err)
		}
	})
}

func TestReleaseAfterCallerCancelled(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		ctx, cancel := context.WithCancel(context.Background())
		lease, err := b.locker(t, Options{TTL: testTTL}).Obtain(ctx, 5, 1)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		waitDone(t, lease.Context(), time.Second) // follows the caller's ctx
		if err := lease.Err(); err != nil {
			t.Fatalf("Err = %v: a cancelled caller has not lost the lease", err)
		}
		other := b.locker(t, Options{TTL: testTTL})
		if _, err := other.Obtain(context.Background(), 5, 2); !errors.Is(err, ErrHeld) {
			t.Fatalf("Obtain before Release: %v", err)
		}
		lease.Release()
		lease.Release() // idempotent
		if !errors.Is(lease.Err(), ErrReleased) {
			t.Fatalf("Err = %v, want ErrReleased", lease.Err())
		}
		next, err := other.Obtain(context.Background(), 5, 2)
		if err != nil {
			t.Fatalf("Obtain after Release: %v", err)
		}
		next.Release()
		st, err := b.inspector(t).Inspect(context.Background(), 5)
		if err != nil || st.Held {
			t.Fatalf("after release: %+v, %v", st, err)
		}
	})
}

func TestReleaseCancelsContext(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		lease, err := b.locker(t, Options{TTL: testTTL}).Obtain(context.Background(), 6, 1)
		if err != nil {
			t.Fatal(err)
		}
		lease.Release()
		select {
		case <-lease.Context().Done():
		default:
			t.Fatal("Context not cancelled by Release")
		}
	})
}

func TestNoGoroutineLeak(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		l := b.locker(t, Options{TTL: testTTL})
		for i := range int64(20) {
			lease, err := l.Obtain(context.Background(), 100+i, 1)
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				b.drop(t, 100+i)
				waitDone(t, lease.Context(), 2*testTTL) // lost, then released
			}
			lease.Release()
		}
		// Renewal is the Locker's loop, not the leases'; only a deadline
		// callback that lost a race may still be finishing.
		deadline := time.Now().Add(2 * time.Second)
		for {
			stacks := goroutines()
			if !strings.Contains(stacks, "locks.(*Lease)") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("lease goroutines left after Release:\n%s", stacks)
			}
			runtime.Gosched()
		}
	})
}

func goroutines() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

func TestRedisKilled(t *testing.T) {
	t.Parallel()
	b, srv, _ := redisBackend(t, false)
	lease, err := b.locker(t, Options{TTL: testTTL}).Obtain(context.Background(), 9, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	stillHeld(t, lease.Context(), testTTL/2) // at least one renewal went through
	srv.Kill()
	// No renewal can answer now; the local deadline must end the lease
	// before Redis would have let anyone else take it.
	took := waitDone(t, lease.Context(), 3*testTTL)
	if took > testTTL {
		t.Errorf("lease ended %s after the kill, want <= TTL %s", took, testTTL)
	}
	if err := lease.Err(); !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "local deadline") {
		t.Fatalf("Err = %v, want loss by local deadline", err)
	}
	lease.Release() // Redis is down: must still return promptly
}

func TestRedisRestartWithoutPersistence(t *testing.T) {
	t.Parallel()
	b, srv, _ := redisBackend(t, false)
	ctx := context.Background()
	lease, err := b.locker(t, Options{TTL: testTTL}).Obtain(ctx, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	srv.Restart(t) // the key is gone with the old process
	waitDone(t, lease.Context(), 2*testTTL)
	if !errors.Is(lease.Err(), ErrLost) {
		t.Fatalf("Err = %v", lease.Err())
	}
	next, err := b.locker(t, Options{TTL: testTTL}).Obtain(ctx, 10, 2)
	if err != nil {
		t.Fatalf("Obtain after restart: %v", err)
	}
	defer next.Release()
	stillHeld(t, next.Context(), testTTL)
}

// The restarted server has lost the renewal script (NOSCRIPT): the Locker
// loads it again and the lease carries on. (TestRedisRenewalAfterScriptFlush
// covers both renewal paths without a restart.)
func TestRedisRestartWithPersistenceKeepsLease(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t, testserver.WithAppendOnly())
	ctx := context.Background()
	lease, err := NewRedis(srv.Client(t), Options{TTL: testTTL}).Obtain(ctx, 11, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	srv.Restart(t) // fsync'd append-only file: the key comes back
	stillHeld(t, lease.Context(), 2*testTTL)
	if _, err := NewRedis(srv.Client(t), Options{TTL: testTTL}).Obtain(ctx, 11, 2); !errors.Is(err, ErrHeld) {
		t.Fatalf("Obtain after restart: %v, want ErrHeld", err)
	}
}
