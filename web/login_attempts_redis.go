package web

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisAttempts is LoginAttempts on Redis, shared by the web instances
// using it. Each operation is one script on one key, so it is atomic and
// fits Redis Cluster.
//
// A web whose Redis user may only read the locks (DESIGN.md, invariant 2)
// gets NOPERM; it then counts in this process, with a warning once, rather
// than refusing every sign-in.
type redisAttempts struct {
	rdb    redis.Scripter
	log    *slog.Logger
	local  LoginAttempts
	denied atomic.Bool // the Redis user may not write helpdesk:login:*
}

// loginKeyPrefix starts the Redis keys of sign-in throttling (the web's
// Redis user needs write access to these keys only).
const loginKeyPrefix = "helpdesk:login:"

// NewRedisLoginAttempts counts sign-in attempts in Redis, shared by all
// web instances on it.
func NewRedisLoginAttempts(rdb redis.Scripter, log *slog.Logger) LoginAttempts {
	return &redisAttempts{rdb: rdb, log: log, local: NewLocalLoginAttempts()}
}

// refused reports whether err is Redis refusing this user the keys, and
// then switches to counting in this process.
func (r *redisAttempts) refused(err error) bool {
	if err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		return false
	}
	if !r.denied.Swap(true) {
		r.log.Warn("the Redis user may not write "+loginKeyPrefix+"*: sign-in attempts are counted per web instance", "err", err)
	}
	return true
}

// addAttempt counts one attempt; the first one of a window (the key
// has no expiry yet) sets its end. Returns {count, milliseconds left}.
var addAttempt = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  left = tonumber(ARGV[1])
  redis.call('PEXPIRE', KEYS[1], left)
end
return {n, left}`)

// undoAttempt decrements a counter that still has its window, so an
// undo after the window ended creates no key without expiry.
var undoAttempt = redis.NewScript(`
if redis.call('PTTL', KEYS[1]) > 0 and tonumber(redis.call('GET', KEYS[1])) > 0 then
  redis.call('DECR', KEYS[1])
end
return 0`)

// holdKey takes the key for ARGV[1] ms unless held; returns 0 or the
// milliseconds left on the current hold.
var holdKey = redis.NewScript(`
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
return math.max(redis.call('PTTL', KEYS[1]), 1)`)

func (r *redisAttempts) Add(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if r.denied.Load() {
		return r.local.Add(ctx, key, window)
	}
	res, err := addAttempt.Run(ctx, r.rdb, []string{loginKeyPrefix + key}, window.Milliseconds()).Int64Slice()
	if r.refused(err) {
		return r.local.Add(ctx, key, window)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("count sign-in attempt: %w", err)
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("count sign-in attempt: unexpected reply %v", res)
	}
	return res[0], time.Duration(res[1]) * time.Millisecond, nil
}

func (r *redisAttempts) Undo(ctx context.Context, key string) error {
	if r.denied.Load() {
		return r.local.Undo(ctx, key)
	}
	err := undoAttempt.Run(ctx, r.rdb, []string{loginKeyPrefix + key}).Err()
	if r.refused(err) {
		return r.local.Undo(ctx, key)
	}
	if err != nil {
		return fmt.Errorf("take back sign-in attempt: %w", err)
	}
	return nil
}

func (r *redisAttempts) Hold(ctx context.Context, key string, d time.Duration) (time.Duration, error) {
	if r.denied.Load() {
		return r.local.Hold(ctx, key, d)
	}
	ms, err := holdKey.Run(ctx, r.rdb, []string{loginKeyPrefix + key}, max(d.Milliseconds(), 1)).Int64()
	if r.refused(err) {
		return r.local.Hold(ctx, key, d)
	}
	if err != nil {
		return 0, fmt.Errorf("hold sign-in backoff: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}
