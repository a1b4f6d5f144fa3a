package leaseview

import "time"

// Member is one live fetch instance as the fleet announces it: who it is,
// when it last said it was alive, and how many mailboxes it held then.
type Member struct {
	Instance      string    `json:"instance"`
	Host          string    `json:"host"`
	PID           int       `json:"pid"`
	StartedAt     time.Time `json:"started_at"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	Owned         int       `json:"owned"`
}

// FleetKey is the Redis key of the fleet's membership: one string, a JSON
// object of Members by instance, rewritten atomically by every heartbeat,
// so a viewer that may only GET can read it. The {fleet} hash tag keeps it
// in one Redis Cluster slot.
const FleetKey = "helpdesk:{fleet}:members"
