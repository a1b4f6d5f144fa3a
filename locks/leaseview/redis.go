package leaseview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

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

func (i *redisInspector) InspectMany(ctx context.Context, ids []int64) ([]State, error) {
	panic("leaseview: InspectMany is not written yet")
}

func (i *redisInspector) Fleet(ctx context.Context) ([]Member, error) {
	panic("leaseview: Fleet is not written yet")
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
	st := State{Held: true, Holder: DecodeHolder(v), TTLLeft: left}
	if st.Holder != nil && st.Holder.TTLMillis > 0 {
		// Every renewal resets the TTL to ttl_ms, so the time it has run
		// down since is the time since the last heartbeat.
		since := time.Duration(st.Holder.TTLMillis)*time.Millisecond - left
		st.LastHeartbeat = now.Add(-since).UTC()
	}
	return st, nil
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
