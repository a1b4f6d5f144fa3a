package main

import (
	"context"
	"fmt"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/locks"
	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// lockDeps are the lock side of a process: a Locker for fetching, the
// fetch fleet's membership and an Inspector for the web, on Redis or
// in-process. The Locker and the Fleet share one instance ID, so a lease's
// Holder.Instance names the fleet member holding it. Nothing here starts
// the fleet: the fetch service does.
type lockDeps struct {
	locker    locks.Locker
	fleet     *locks.Fleet
	inspector leaseview.Inspector
	holder    string
	redis     *redis.Client
	metrics   *locks.Metrics
	closers   []func() error
}

// newLockDeps sets up locks. Without Redis, fetching is only safe from one
// process per data directory: a process that fetches takes a file lock on it
// and a second one is refused.
func newLockDeps(ctx context.Context, cfg config, fetching bool) (*lockDeps, error) {
	host, _ := os.Hostname()
	d := &lockDeps{metrics: locks.NewMetrics()}
	opts := locks.Options{Host: host, PID: os.Getpid(), Instance: locks.NewInstanceID(), Metrics: d.metrics, TTL: cfg.LockTTL}
	if cfg.RedisURL == "" {
		if fetching {
			release, err := locks.LockDataDir(cfg.DataDir)
			if err != nil {
				return nil, err
			}
			d.closers = append(d.closers, release)
		}
		local := locks.NewLocal(opts)
		d.locker, d.fleet, d.inspector = local, local.Fleet(), local.Inspector()
	} else {
		ropts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("HELPDESK_REDIS_URL: %w", err)
		}
		d.redis = redis.NewClient(ropts)
		d.closers = append(d.closers, d.redis.Close)
		d.locker, d.fleet = locks.NewRedis(d.redis, opts), locks.NewRedisFleet(d.redis, opts)
		d.inspector = leaseview.NewRedisInspector(d.redis)
	}
	d.holder = fmt.Sprintf("%s/%d", host, os.Getpid())
	return d, nil
}

func (d *lockDeps) Close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}
