package leaseview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewRedisInspector reads locks and the fleet with GET and PTTL only, in
// one round trip per call. It can therefore connect as a Redis user that
// cannot write, created with
//
//	ACL SETUSER viewer on >PASSWORD -@all +get +pttl +scan ~*
//
// (the tests run it as exactly that user).
func NewRedisInspector(client redis.UniversalClient) Inspector {
	return &redisInspector{client: client}
}

// redisInspector is deliberately not the Redis locker: its only methods read.
type redisInspector struct {
	client redis.UniversalClient
}

func (i *redisInspector) Inspect(ctx context.Context, mailboxID int64) (State, error) {
	states, err := i.InspectMany(ctx, []int64{mailboxID})
	if err != nil {
		return State{}, err
	}
	return states[0], nil
}

// InspectMany pipelines a GET and a PTTL per key: single-key commands, so
// it also works on Redis Cluster (one round trip per node).
func (i *redisInspector) InspectMany(ctx context.Context, ids []int64) ([]State, error) {
	pipe := i.client.Pipeline()
	gets := make([]*redis.StringCmd, len(ids))
	pttls := make([]*redis.DurationCmd, len(ids))
	for n, id := range ids {
		gets[n] = pipe.Get(ctx, Key(id))
		pttls[n] = pipe.PTTL(ctx, Key(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("locks: inspect %d mailboxes: %w", len(ids), err)
	}
	now := time.Now()
	states := make([]State, len(ids))
	for n, id := range ids {
		st, err := stateOf(gets[n], pttls[n], now)
		if err != nil {
			return nil, fmt.Errorf("locks: inspect mailbox %d: %w", id, err)
		}
		states[n] = st
	}
	return states, nil
}

// stateOf turns the answers to GET and PTTL of a lock key, read at now,
// into its State.
func stateOf(get *redis.StringCmd, pttl *redis.DurationCmd, now time.Time) (State, error) {
	v, err := get.Result()
	if errors.Is(err, redis.Nil) {
		return State{}, nil // idle; an absent key is the normal case, not something to repair
	}
	if err != nil {
		return State{}, err
	}
	left, err := pttl.Result()
	if err != nil {
		return State{}, err
	}
	switch {
	case left == -2: // go-redis: the key expired between GET and PTTL
		return State{}, nil
	case left < 0: // no expiry at all; not ours, but report it as held
		left = 0
	}
	st := State{Held: true, Holder: DecodeHolder(v), TTLLeft: left}
	if st.Holder != nil && st.Holder.TTLMillis > 0 {
		// Every renewal resets the TTL to ttl_ms, so the time it has run
		// down since is the time since the last heartbeat.
		since := time.Duration(st.Holder.TTLMillis)*time.Millisecond - left
		st.LastHeartbeat = now.Add(-since).UTC()
	}
	return st, nil
}

// Fleet reads FleetKey and its PTTL in one round trip.
func (i *redisInspector) Fleet(ctx context.Context) ([]Member, error) {
	pipe := i.client.Pipeline()
	get := pipe.Get(ctx, FleetKey)
	pttl := pipe.PTTL(ctx, FleetKey)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("locks: read fleet: %w", err)
	}
	now := time.Now()
	v, err := get.Result()
	if errors.Is(err, redis.Nil) {
		return []Member{}, nil // nobody has been alive for a member TTL
	}
	if err != nil {
		return nil, fmt.Errorf("locks: read fleet: %w", err)
	}
	left, err := pttl.Result()
	if err != nil {
		return nil, fmt.Errorf("locks: read fleet: %w", err)
	}
	if left == -2 { // go-redis: the key expired between GET and PTTL
		return []Member{}, nil
	}
	members, err := liveMembers(v, left, now)
	if err != nil {
		return nil, fmt.Errorf("locks: read fleet: %w", err)
	}
	return members, nil
}

// liveMembers decodes FleetKey's value, read with left as its PTTL at now
// (the reader's clock), and drops the members that went stale since it was
// written. The writers set the key to expire when its last member goes
// stale, so the server's clock now is that moment minus left; each
// member's LastHeartbeat is rebased on the reader's clock the same way.
func liveMembers(value string, left time.Duration, now time.Time) ([]Member, error) {
	var byInstance map[string]Member
	if err := json.Unmarshal([]byte(value), &byInstance); err != nil {
		return nil, fmt.Errorf("%s does not hold a fleet: %w", FleetKey, err)
	}
	var expiresMillis int64
	for _, m := range byInstance {
		expiresMillis = max(expiresMillis, m.HeartbeatMillis+m.TTLMillis)
	}
	members := make([]Member, 0, len(byInstance))
	for _, m := range byInstance {
		if left >= 0 {
			serverNow := expiresMillis - left.Milliseconds()
			if m.HeartbeatMillis+m.TTLMillis <= serverNow {
				continue
			}
			since := time.Duration(serverNow-m.HeartbeatMillis) * time.Millisecond
			m.LastHeartbeat = now.Add(-since).UTC()
		} // else the key has no expiry, so it was not written by a heartbeat: show it as stored
		members = append(members, m)
	}
	slices.SortFunc(members, func(a, b Member) int { return strings.Compare(a.Instance, b.Instance) })
	return members, nil
}

// DecodeHolder reads the Holder from a lock's Redis value: redislock's
// token followed by the Holder as JSON. The token is base64url, which has
// no '{', so the first '{' starts the JSON. It returns nil for a value that
// is not ours.
func DecodeHolder(value string) *Holder {
	i := strings.IndexByte(value, '{')
	if i < 0 {
		return nil
	}
	var h Holder
	if err := json.Unmarshal([]byte(value[i:]), &h); err != nil {
		return nil
	}
	return &h
}
