package locks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	rdb     redis.UniversalClient
	locks   *redislock.Client
	opts    Options
	renewal *renewal
}

// NewRedis returns a Locker on client. A *redis.Client, a cluster or a
// failover client all fit.
func NewRedis(client redis.UniversalClient, opts Options) *Redis {
	opts = opts.withDefaults()
	r := &Redis{rdb: client, locks: redislock.New(client), opts: opts}
	r.renewal = newRenewal(r.renew, timingFor(opts.TTL), opts.Metrics)
	return r
}

// Obtain implements Locker.
func (r *Redis) Obtain(ctx context.Context, mailboxID, fence int64) (*Lease, error) {
	b, h, sent, err := r.acquire(ctx, mailboxID, fence)
	if err != nil {
		return nil, err
	}
	r.opts.Metrics.acquired()
	return newLease(ctx, mailboxID, h, b, r.renewal, sent), nil
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

// acquire takes the key without renewing it. sent is when the
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
	return &redisLease{lock: lock, key: key, value: lock.Token() + lock.Metadata()}, h, sent, nil
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

// redisLease is one acquisition: the redislock lock, for Release, and the
// key and the whole value redislock stored (token + metadata), for renewal.
type redisLease struct {
	lock  *redislock.Lock
	key   string
	value string
}

func (l *redisLease) release(ctx context.Context) error {
	err := l.lock.Release(ctx)
	if errors.Is(err, redislock.ErrLockNotHeld) {
		return errNotHeld
	}
	return err
}

// refreshScript is redislock's refresh.lua for one key: extend the TTL only
// while the key holds the whole value we stored. As a script per key it
// can be pipelined, and a pipeline of single-key scripts works on Redis
// Cluster too. KEYS[1] = key, ARGV[1] = value, ARGV[2] = TTL in ms.
var refreshScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.status_reply('OK')
`)

// renew renews leases in one pipeline of EVALSHAs (see renewal). Only
// this Locker's leases come here.
func (r *Redis) renew(ctx context.Context, leases []leaseBackend) []error {
	errs := r.renewPipelined(ctx, leases)
	if slices.ContainsFunc(errs, isNoScript) {
		// The server lost its scripts (a restart, SCRIPT FLUSH): load the
		// script and go again, once.
		if err := refreshScript.Load(ctx, r.rdb).Err(); err == nil {
			errs = r.renewPipelined(ctx, leases)
		}
	}
	return errs
}

func (r *Redis) renewPipelined(ctx context.Context, leases []leaseBackend) []error {
	ttl := r.opts.TTL.Milliseconds()
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(leases))
	for i, b := range leases {
		l := b.(*redisLease)
		cmds[i] = refreshScript.EvalSha(ctx, pipe, []string{l.key}, l.value, ttl)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	errs := make([]error, len(leases))
	for i, cmd := range cmds {
		errs[i] = cmd.Err()
		if errors.Is(errs[i], redis.Nil) {
			errs[i] = errNotHeld
		}
	}
	return errs
}

func isNoScript(err error) bool { return redis.HasErrorPrefix(err, "NOSCRIPT") }
