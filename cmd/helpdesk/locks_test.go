package main

import (
	"context"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/internal/testserver"
)

// The Locker and the Fleet of a process share one instance ID: a lease
// names the fleet member that holds it, and the fetch service relies on
// that to tell its own leases from others'.
func TestLockDepsShareOneInstance(t *testing.T) {
	t.Parallel()
	redisURL := "redis://" + testserver.StartRedis(t).Addr() + "/0"
	for name, cfg := range map[string]config{
		"embedded": {DataDir: t.TempDir(), LockTTL: 30 * time.Second},
		"redis":    {RedisURL: redisURL, LockTTL: 30 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := newLockDeps(context.Background(), cfg, false)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			lease, err := d.locker.Obtain(context.Background(), 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer lease.Release()
			if self := d.fleet.Self(); self == "" || lease.Holder().Instance != self {
				t.Fatalf("lease instance %q, fleet member %q", lease.Holder().Instance, self)
			}
		})
	}
}
