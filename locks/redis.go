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
	perKey  bool // one command per key for renewal and Free (see NewRedis)
	renewal *renewal
}

// NewRedis returns a Locker on client. A *redis.Client, a cluster or a
// failover client all fit.
//
// On a *redis.Client (one server, Sentinel failover included) one script
// call renews many leases and one MGET reads many keys. Any other client
// may spread the keys over servers or slots (Redis Cluster, Ring), which
// one command cannot span, so there it costs one command per key, still
// pipelined in one round trip.
func NewRedis(client redis.UniversalClient, opts Options) *Redis {
	_, oneServer := client.(*redis.Client)
	return newRedis(client, opts, !oneServer)
}

// newRedis lets tests take the per-key path on a single server.
func newRedis(client redis.UniversalClient, opts Options, perKey bool) *Redis {
	opts = opts.withDefaults()
	r := &Redis{rdb: client, locks: redislock.New(client), opts: opts, perKey: perKey}
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
func (r *Redis) Free(ctx context.Context, ids []int64) ([]bool, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = leaseview.Key(id)
	}
	read := r.freeByMGet
	if r.perKey {
		read = r.freeByExists
	}
	free, err := read(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("locks: read which of %d mailboxes are free: %w", len(ids), err)
	}
	return free, nil
}

// freeByMGet reads the keys with one MGET per keysPerCall keys, all in one
// pipeline.
func (r *Redis) freeByMGet(ctx context.Context, keys []string) ([]bool, error) {
	pipe := r.rdb.Pipeline()
	var cmds []*redis.SliceCmd
	for chunk := range slices.Chunk(keys, keysPerCall) {
		cmds = append(cmds, pipe.MGet(ctx, chunk...))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	free := make([]bool, 0, len(keys))
	for _, cmd := range cmds {
		for _, v := range cmd.Val() {
			free = append(free, v == nil)
		}
	}
	if len(free) != len(keys) {
		return nil, fmt.Errorf("MGET answered %d values for %d keys", len(free), len(keys))
	}
	return free, nil
}

// freeByExists pipelines one EXISTS per key.
func (r *Redis) freeByExists(ctx context.Context, keys []string) ([]bool, error) {
	pipe := r.rdb.Pipeline()
	exists := make([]*redis.IntCmd, len(keys))
	for i, key := range keys {
		exists[i] = pipe.Exists(ctx, key)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	free := make([]bool, len(keys))
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

// keysPerCall bounds the keys of one renewal script call or one MGET, so
// that a huge lease set neither blocks the server long in one command nor
// builds one huge reply. The calls of a tick still share one pipeline.
const keysPerCall = 1000

// renewManyScript renews the leases of one call on one server: it extends
// the TTL of each key that still holds the whole value we stored
// (redislock's refresh, one MGET for all the keys) and answers 1 for a
// renewed key, 0 for one that is gone or someone else's. Redis counts the
// call, the MGET and each PEXPIRE as a command.
// KEYS = lease keys, ARGV[1] = TTL in ms, ARGV[i+1] = the value of KEYS[i].
var renewManyScript = redis.NewScript(`
local values = redis.call('MGET', unpack(KEYS))
local renewed = {}
for i = 1, #KEYS do
	renewed[i] = 0
	if values[i] == ARGV[i + 1] then
		redis.call('PEXPIRE', KEYS[i], ARGV[1])
		renewed[i] = 1
	end
end
return renewed
`)

// renewOneScript is redislock's refresh.lua for one key, for clients whose
// keys may lie on many servers (see NewRedis). KEYS[1] = key, ARGV[1] =
// value, ARGV[2] = TTL in ms.
var renewOneScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.status_reply('OK')
`)

// renew renews leases in one round trip (see renewal). Only this Locker's
// leases come here.
func (r *Redis) renew(ctx context.Context, leases []leaseBackend) []error {
	script, renew := renewManyScript, r.renewMany
	if r.perKey {
		script, renew = renewOneScript, r.renewEach
	}
	errs := renew(ctx, leases)
	if slices.ContainsFunc(errs, isNoScript) {
		// The server lost its scripts (a restart, SCRIPT FLUSH): load the
		// script and go again, once.
		if err := script.Load(ctx, r.rdb).Err(); err == nil {
			errs = renew(ctx, leases)
		}
	}
	return errs
}

// renewMany sends one renewManyScript call per keysPerCall leases, all in
// one pipeline.
func (r *Redis) renewMany(ctx context.Context, leases []leaseBackend) []error {
	ttl := r.opts.TTL.Milliseconds()
	pipe := r.rdb.Pipeline()
	var cmds []*redis.Cmd
	for chunk := range slices.Chunk(leases, keysPerCall) {
		keys := make([]string, len(chunk))
		args := make([]any, 1, 1+len(chunk))
		args[0] = ttl
		for i, b := range chunk {
			l := b.(*redisLease)
			keys[i] = l.key
			args = append(args, l.value)
		}
		cmds = append(cmds, renewManyScript.EvalSha(ctx, pipe, keys, args...))
	}
	_, _ = pipe.Exec(ctx) // each call carries its own error
	errs := make([]error, 0, len(leases))
	for i, cmd := range cmds {
		errs = append(errs, renewedKeys(cmd, min(keysPerCall, len(leases)-i*keysPerCall))...)
	}
	return errs
}

// renewedKeys turns the answer of a renewManyScript call for n keys into
// their errors.
func renewedKeys(cmd *redis.Cmd, n int) []error {
	errs := make([]error, n)
	renewed, err := cmd.Int64Slice()
	if err == nil && len(renewed) != n {
		err = fmt.Errorf("renewal script answered %d results for %d keys", len(renewed), n)
	}
	for i := range errs {
		switch {
		case err != nil:
			errs[i] = err
		case renewed[i] != 1:
			errs[i] = errNotHeld
		}
	}
	return errs
}

// renewEach pipelines one renewOneScript call per lease.
func (r *Redis) renewEach(ctx context.Context, leases []leaseBackend) []error {
	ttl := r.opts.TTL.Milliseconds()
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(leases))
	for i, b := range leases {
		l := b.(*redisLease)
		cmds[i] = renewOneScript.EvalSha(ctx, pipe, []string{l.key}, l.value, ttl)
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
