package locks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Inspector shows lock state to the admin pages. It has no method that
// takes, renews, releases or "cleans up" a lease (invariant 2): the web
// package gets this and never a Locker.
type Inspector interface {
	Inspect(ctx context.Context, mailboxID int64) (State, error)
}

// State is a mailbox lock as seen from outside. The zero value is idle.
type State struct {
	Held          bool
	Holder        *Holder // nil when idle, or when held by a value we cannot decode
	LastHeartbeat time.Time
	TTLLeft       time.Duration
}

// NewRedisInspector reads locks with GET and PTTL only, in one round trip.
// It can therefore connect as a Redis user that cannot write, created with
//
//	ACL SETUSER viewer on >PASSWORD -@all +get +pttl +scan ~*
//
// (the tests run it as exactly that user).
func NewRedisInspector(client redis.UniversalClient) Inspector {
	return &redisInspector{client: client}
}

// redisInspector is deliberately not the Redis locker: its only method reads.
type redisInspector struct {
	client redis.UniversalClient
}

func (i *redisInspector) Inspect(ctx context.Context, mailboxID int64) (State, error) {
	key := Key(mailboxID)
	pipe := i.client.Pipeline()
	get := pipe.Get(ctx, key)
	pttl := pipe.PTTL(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return State{}, fmt.Errorf("locks: inspect mailbox %d: %w", mailboxID, err)
	}
	now := time.Now()
	v, err := get.Result()
	if errors.Is(err, redis.Nil) {
		return State{}, nil // idle; an absent key is the normal case, not something to repair
	}
	if err != nil {
		return State{}, fmt.Errorf("locks: inspect mailbox %d: %w", mailboxID, err)
	}
	left, err := pttl.Result()
	if err != nil {
		return State{}, fmt.Errorf("locks: inspect mailbox %d: %w", mailboxID, err)
	}
	switch {
	case left == -2: // go-redis: the key expired between GET and PTTL
		return State{}, nil
	case left < 0: // no expiry at all; not ours, but report it as held
		left = 0
	}
	st := State{Held: true, Holder: decodeHolder(v), TTLLeft: left}
	if st.Holder != nil && st.Holder.TTLMillis > 0 {
		// Every renewal resets the TTL to ttl_ms, so the time it has run
		// down since is the time since the last heartbeat.
		since := time.Duration(st.Holder.TTLMillis)*time.Millisecond - left
		st.LastHeartbeat = now.Add(-since).UTC()
	}
	return st, nil
}

// decodeHolder reads the JSON metadata after redislock's token. The token is
// base64url, which has no '{', so the first '{' starts the metadata.
func decodeHolder(value string) *Holder {
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
