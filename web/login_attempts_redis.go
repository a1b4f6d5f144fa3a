package web

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisAttempts is LoginAttempts on Redis, shared by the web instances
// using it. Each operation is one script on one key, so it is atomic and
// fits Redis Cluster.
type redisAttempts struct {
	rdb redis.Scripter
}

// loginKeyPrefix starts the Redis keys of sign-in throttling (the web's
// Redis user needs write access to these keys only).
const loginKeyPrefix = "helpdesk:login:"

// NewRedisLoginAttempts counts sign-in attempts in Redis, shared by all
// web instances on it.
func NewRedisLoginAttempts(rdb redis.Scripter) LoginAttempts { return redisAttempts{rdb: rdb} }

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

func (r redisAttempts) Add(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	res, err := addAttempt.Run(ctx, r.rdb, []string{loginKeyPrefix + key}, window.Milliseconds()).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("count sign-in attempt: %w", err)
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("count sign-in attempt: unexpected reply %v", res)
	}
	return res[0], time.Duration(res[1]) * time.Millisecond, nil
}

func (r redisAttempts) Undo(ctx context.Context, key string) error {
	if err := undoAttempt.Run(ctx, r.rdb, []string{loginKeyPrefix + key}).Err(); err != nil {
		return fmt.Errorf("take back sign-in attempt: %w", err)
	}
	return nil
}

func (r redisAttempts) Hold(ctx context.Context, key string, d time.Duration) (time.Duration, error) {
	ms, err := holdKey.Run(ctx, r.rdb, []string{loginKeyPrefix + key}, max(d.Milliseconds(), 1)).Int64()
	if err != nil {
		return 0, fmt.Errorf("hold sign-in backoff: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}
