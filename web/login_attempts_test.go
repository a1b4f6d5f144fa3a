package web

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/internal/testserver"
)

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Unix(1_700_000_000, 0)} }

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// attemptCounters runs test on each LoginAttempts implementation.
func attemptCounters(t *testing.T, test func(t *testing.T, a LoginAttempts)) {
	t.Run("local", func(t *testing.T) {
		t.Parallel()
		test(t, NewLocalLoginAttempts())
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		test(t, NewRedisLoginAttempts(testserver.StartRedis(t).Client(t)))
	})
}

func TestLoginAttemptsCountUndoAndHold(t *testing.T) {
	t.Parallel()
	attemptCounters(t, func(t *testing.T, a LoginAttempts) {
		ctx := context.Background()
		for want := int64(1); want <= 3; want++ {
			n, left, err := a.Add(ctx, "k", time.Hour)
			if err != nil || n != want || left <= 0 || left > time.Hour {
				t.Fatalf("add %d: n %d left %v err %v", want, n, left, err)
			}
		}
		if err := a.Undo(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if n, _, err := a.Add(ctx, "k", time.Hour); err != nil || n != 3 {
			t.Fatalf("add after undo: %d %v, want 3", n, err)
		}
		if n, _, err := a.Add(ctx, "other", time.Hour); err != nil || n != 1 {
			t.Fatalf("another key: %d %v, want 1", n, err)
		}
		// An undo of a key never counted leaves nothing behind.
		if err := a.Undo(ctx, "never"); err != nil {
			t.Fatal(err)
		}
		if n, _, err := a.Add(ctx, "never", time.Hour); err != nil || n != 1 {
			t.Fatalf("add after undo of an unknown key: %d %v, want 1", n, err)
		}
		if left, err := a.Hold(ctx, "h", time.Hour); err != nil || left != 0 {
			t.Fatalf("first hold: %v %v, want it taken", left, err)
		}
		if left, err := a.Hold(ctx, "h", time.Minute); err != nil || left <= time.Minute || left > time.Hour {
			t.Fatalf("second hold: %v %v, want the first hold's time left", left, err)
		}
	})
}

func TestLocalLoginAttemptsWindowEnds(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	a := newLocalAttempts(clock.now)
	ctx := context.Background()
	a.Add(ctx, "k", time.Minute)
	clock.advance(time.Second)
	if n, left, _ := a.Add(ctx, "k", time.Minute); n != 2 || left != 59*time.Second {
		t.Fatalf("second attempt: n %d left %v, want 2 and 59s", n, left)
	}
	a.Hold(ctx, "h", time.Minute)
	clock.advance(time.Minute)
	a.Undo(ctx, "k")
	if n, left, _ := a.Add(ctx, "k", time.Minute); n != 1 || left != time.Minute {
		t.Fatalf("after the window: n %d left %v, want a new window", n, left)
	}
	if left, _ := a.Hold(ctx, "h", time.Minute); left != 0 {
		t.Fatalf("hold after it ended: %v", left)
	}
}

func TestRedisLoginAttemptsExpire(t *testing.T) {
	t.Parallel()
	rsrv := testserver.StartRedis(t)
	rdb := rsrv.Client(t)
	a := NewRedisLoginAttempts(rdb)
	ctx := context.Background()
	a.Add(ctx, "k", time.Hour)
	a.Hold(ctx, "h", time.Minute)
	for key, window := range map[string]time.Duration{loginKeyPrefix + "k": time.Hour, loginKeyPrefix + "h": time.Minute} {
		if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 0 || ttl > window {
			t.Fatalf("%s expires in %v, want within %v", key, ttl, window)
		}
	}
	// An undo after the window ended creates no key (one without expiry
	// would count forever).
	a.Undo(ctx, "gone")
	if n := rdb.Exists(ctx, loginKeyPrefix+"gone").Val(); n != 0 {
		t.Fatal("undo of an ended window created a key")
	}
	// A key left without expiry (by hand, say) gets one at the next attempt.
	rdb.Set(ctx, loginKeyPrefix+"stuck", 5, 0)
	if n, left, err := a.Add(ctx, "stuck", time.Minute); err != nil || n != 6 || left != time.Minute {
		t.Fatalf("attempt on a key without expiry: n %d left %v err %v", n, left, err)
	}
	if ttl := rdb.PTTL(ctx, loginKeyPrefix+"stuck").Val(); ttl <= 0 {
		t.Fatalf("key still without expiry: %v", ttl)
	}
}

// The web's Redis user of the README counts sign-in attempts and still
// cannot write a lock, not even through a script.
func TestRedisLoginAttemptsUnderWebACL(t *testing.T) {
	t.Parallel()
	rsrv := testserver.StartRedis(t)
	viewer := redisViewer(t, rsrv)
	a := NewRedisLoginAttempts(viewer)
	ctx := context.Background()
	if n, _, err := a.Add(ctx, "k", time.Minute); err != nil || n != 1 {
		t.Fatalf("add as the web's user: %d %v", n, err)
	}
	if err := a.Undo(ctx, "k"); err != nil {
		t.Fatalf("undo as the web's user: %v", err)
	}
	if left, err := a.Hold(ctx, "h", time.Minute); err != nil || left != 0 {
		t.Fatalf("hold as the web's user: %v %v", left, err)
	}
	lock := "helpdesk:fetchlock:1"
	if err := viewer.Set(ctx, lock, "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("SET on a lock key as the web's user: %v, want NOPERM", err)
	}
	if err := holdKey.Run(ctx, viewer, []string{lock}, 1000).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("a script writing a lock key as the web's user: %v, want NOPERM", err)
	}
	if n := rsrv.Client(t).Exists(ctx, lock).Val(); n != 0 {
		t.Fatal("the web's user wrote a lock key")
	}
}
