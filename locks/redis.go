package locks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bsm/redislock"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// Redis is the distributed Locker: one redislock key per mailbox, whose
// value is redislock's random token followed by the JSON Holder. Renewal and
// release compare the whole value, so a lease can only extend or delete the
// key it created.
type Redis struct {
	rdb    redis.UniversalClient
	locks  *redislock.Client
	opts   Options
	timing timing
}

// NewRedis returns a Locker on client. A *redis.Client, a cluster or a
// failover client all fit.
func NewRedis(client redis.UniversalClient, opts Options) *Redis {
	opts = opts.withDefaults()
	return &Redis{
		rdb:    client,
		locks:  redislock.New(client),
		opts:   opts,
		timing: timingFor(opts.TTL),
	}
}

// Obtain implements Locker.
func (r *Redis) Obtain(ctx context.Context, mailboxID, fence int64) (*Lease, error) {
	b, h, sent, err := r.acquire(ctx, mailboxID, fence)
	if err != nil {
		return nil, err
	}
	r.opts.Metrics.acquired()
	return newLease(ctx, mailboxID, h, b, r.timing, r.opts.Metrics, sent), nil
}

// Free implements Locker.
// It pipelines one EXISTS per key rather than one EXISTS of all keys, so
// that it also works on Redis Cluster, where the keys lie in many slots.
func (r *Redis) Free(ctx context.Context, ids []int64) ([]bool, error) {
	pipe := r.rdb.Pipeline()
	exists := make([]*redis.IntCmd, len(ids))
	for i, id := range ids {
		exists[i] = pipe.Exists(ctx, leaseview.Key(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("locks: read which of %d mailboxes are free: %w", len(ids), err)
	}
	free := make([]bool, len(ids))
	for i, cmd := range exists {
		free[i] = cmd.Val() == 0
	}
	return free, nil
}

// acquire takes the key without starting a heartbeat. sent is when the
// request left, the earliest the server can have started the TTL.
func (r *Redis) acquire(ctx context.Context, mailboxID, fence int64) (*redisLease, leaseview.Holder, time.Time, error) {
	sent := time.Now()
	h := leaseview.Holder{
		Host:       r.opts.Host,
		PID:        r.opts.PID,
		Instance:   r.opts.Instance,
		AcquiredAt: sent.UTC(), // UTC also drops the monotonic reading
		TTLMillis:  r.opts.TTL.Milliseconds(),
		Fence:      fence,
	}
	meta, err := json.Marshal(h)
	if err != nil {
		return nil, leaseview.Holder{}, sent, fmt.Errorf("locks: encode holder: %w", err)
	}
	key := leaseview.Key(mailboxID)
	lock, err := r.locks.Obtain(ctx, key, r.opts.TTL, &redislock.Options{Metadata: string(meta)})
	if errors.Is(err, redislock.ErrNotObtained) {
		r.opts.Metrics.notObtained()
		return nil, leaseview.Holder{}, sent, &HeldError{MailboxID: mailboxID, Holder: r.holder(ctx, key)}
	}
	if err != nil {
		return nil, leaseview.Holder{}, sent, fmt.Errorf("locks: obtain mailbox %d: %w", mailboxID, err)
	}
	return &redisLease{lock: lock, ttl: r.opts.TTL}, h, sent, nil
}

// holder reads who holds key, for the error message; nil when that fails
// or the key vanished meanwhile. It costs a round trip only on contention.
func (r *Redis) holder(ctx context.Context, key string) *leaseview.Holder {
	v, err := r.rdb.Get(ctx, key).Result()
	if err != nil {
		return nil
	}
	return leaseview.DecodeHolder(v)
}

type redisLease struct {
	lock *redislock.Lock
	ttl  time.Duration
}

func (l *redisLease) refresh(ctx context.Context) error {
	err := l.lock.Refresh(ctx, l.ttl, nil)
	if errors.Is(err, redislock.ErrNotObtained) {
		return errNotHeld
	}
	return err
}

func (l *redisLease) release(ctx context.Context) error {
	err := l.lock.Release(ctx)
	if errors.Is(err, redislock.ErrLockNotHeld) {
		return errNotHeld
	}
	return err
}
