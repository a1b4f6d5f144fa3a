// Package leaseview is the read-only side of the fetch leases: the lock
// key, who holds a lease and the Inspector that shows it. The web package
// imports this and not locks, so taking, renewing or releasing a lease is
// out of its reach (invariant 2). locks builds on it, never the other way.
package leaseview

import (
	"context"
	"fmt"
	"time"
)

// Inspector shows lock state to the admin pages. It has no method that
// takes, renews, releases or "cleans up" a lease (invariant 2): the web
// package gets this and never a Locker.
type Inspector interface {
	Inspect(ctx context.Context, mailboxID int64) (State, error)
	// InspectMany reads the leases of many mailboxes in one round trip;
	// the i-th State is that of ids[i].
	InspectMany(ctx context.Context, ids []int64) ([]State, error)
	// Fleet lists the live fetch instances, sorted by Instance.
	Fleet(ctx context.Context) ([]Member, error)
}

// State is a mailbox lock as seen from outside. The zero value is idle.
type State struct {
	Held          bool
	Holder        *Holder // nil when idle, or when held by a value we cannot decode
	LastHeartbeat time.Time
	TTLLeft       time.Duration
}

// Holder describes who holds a lease. It is stored with the lock so that
// admins and a refused "fetch" can name the holder.
type Holder struct {
	Host       string    `json:"host"`
	PID        int       `json:"pid"`
	Instance   string    `json:"instance"`
	AcquiredAt time.Time `json:"acquired_at"`
	TTLMillis  int64     `json:"ttl_ms"`
	Fence      int64     `json:"fence"`
}

func (h Holder) String() string {
	return fmt.Sprintf("%s pid %d (instance %s, fence %d, since %s)",
		h.Host, h.PID, h.Instance, h.Fence, h.AcquiredAt.Format(time.RFC3339))
}
