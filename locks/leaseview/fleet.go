package leaseview

import "time"

// Member is one live fetch instance as the fleet announces it: who it is,
// when it last said it was alive, and how many mailboxes it held then.
type Member struct {
	Instance  string    `json:"instance"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
	// LastHeartbeat is the member's own clock when written; Inspector.Fleet
	// rebases it on the reader's clock from the server's heartbeat time.
	LastHeartbeat time.Time `json:"last_heartbeat"`
	Owned         int       `json:"owned"`
	// HeartbeatMillis is the Redis server's clock (Unix ms) at the last
	// heartbeat and TTLMillis how long the member counts as live after it:
	// staleness is judged on one clock, the server's, so skew between
	// machines cannot drop a live member.
	HeartbeatMillis int64 `json:"heartbeat_ms,omitempty"`
	TTLMillis       int64 `json:"ttl_ms,omitempty"`
}

// FleetKey is the Redis key of the fleet's membership: one string, a JSON
// object of Members by instance, rewritten atomically by every heartbeat,
// so a viewer that may only GET can read it. The {fleet} hash tag keeps it
// in one Redis Cluster slot. The key expires when its last member would go
// stale (PXAT the largest heartbeat_ms + ttl_ms), which is how a viewer
// that may only GET and PTTL learns the server's clock.
const FleetKey = "helpdesk:{fleet}:members"
