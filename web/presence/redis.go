package presence

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the Board shared by web instances: one hash per conversation,
// a field per user holding the entry and its expiry; the hash itself
// expires TTL after the last heartbeat, and expired fields are dropped by
// the next heartbeat that reads them.
type Redis struct {
	rdb *redis.Client
	ttl time.Duration
}

// NewRedis returns a board on rdb whose entries live ttl (DefaultTTL when
// 0).
func NewRedis(rdb *redis.Client, ttl time.Duration) *Redis {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Redis{rdb: rdb, ttl: ttl}
}

// Key is the hash of a conversation's presence.
func Key(convID int64) string { return "helpdesk:presence:" + strconv.FormatInt(convID, 10) }

type redisEntry struct {
	Entry
	UntilMS int64 `json:"until_ms"`
}

// Beat implements Board.
func (r *Redis) Beat(ctx context.Context, convID int64, e Entry) ([]Entry, error) {
	now := time.Now()
	val, err := json.Marshal(redisEntry{Entry: e, UntilMS: now.Add(r.ttl).UnixMilli()})
	if err != nil {
		return nil, err
	}
	key := Key(convID)
	var all *redis.MapStringStringCmd
	_, err = r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, strconv.FormatInt(e.UserID, 10), val)
		p.PExpire(ctx, key, r.ttl)
		all = p.HGetAll(ctx, key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("presence of conversation %d: %w", convID, err)
	}
	var out []Entry
	var expired []string
	for field, raw := range all.Val() {
		var re redisEntry
		if json.Unmarshal([]byte(raw), &re) != nil || re.UntilMS < now.UnixMilli() {
			expired = append(expired, field)
			continue
		}
		out = append(out, re.Entry)
	}
	if len(expired) > 0 {
		if err := r.rdb.HDel(ctx, key, expired...).Err(); err != nil {
			return nil, fmt.Errorf("presence of conversation %d: %w", convID, err)
		}
	}
	sortEntries(out)
	return out, nil
}

// Leave implements Board.
func (r *Redis) Leave(ctx context.Context, convID, userID int64) error {
	if err := r.rdb.HDel(ctx, Key(convID), strconv.FormatInt(userID, 10)).Err(); err != nil {
		return fmt.Errorf("leave conversation %d: %w", convID, err)
	}
	return nil
}
