package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/web/presence"
)

// With README's web user, sign-in attempts and presence live in Redis;
// with a user that may only read the locks (invariant 2), they stay in
// the process, with one warning each, and nothing is written to Redis.
func TestWebRedisFeaturesFollowTheACL(t *testing.T) {
	t.Parallel()
	rsrv := testserver.StartRedis(t)
	admin := rsrv.Client(t)
	ctx := context.Background()
	users := map[string][]any{
		"web": {"+get", "+pttl", "~helpdesk:fetchlock:*", "~helpdesk:{fleet}:*",
			"(~helpdesk:login:* +evalsha +eval +incr +decr +get +set +pttl +pexpire)",
			"(~helpdesk:presence:* +hset +hgetall +hdel +pexpire +multi +exec)"},
		"reader": {"+get", "+pttl", "~helpdesk:fetchlock:*", "~helpdesk:{fleet}:*"},
	}
	for name, rules := range users {
		args := append([]any{"ACL", "SETUSER", name, "on", ">pw", "-@all"}, rules...)
		if err := admin.Do(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(&redis.Options{Addr: rsrv.Addr(), Username: name, Password: "pw", DisableIdentity: true})
		t.Cleanup(func() { rdb.Close() })
		var logged strings.Builder
		logger := slog.New(slog.NewTextHandler(&logged, nil))
		deps := &lockDeps{redis: rdb}

		attempts := loginAttempts(ctx, deps, logger)
		board := presenceBoard(ctx, deps, logger)
		if _, _, err := attempts.Add(ctx, "k", time.Minute); err != nil {
			t.Fatalf("%s: count an attempt: %v", name, err)
		}
		if _, err := board.Beat(ctx, 7, presence.Entry{UserID: 1, Name: "Ada"}); err != nil {
			t.Fatalf("%s: presence: %v", name, err)
		}
		keys := admin.Keys(ctx, "helpdesk:*").Val()
		warnings := strings.Count(logged.String(), "may not write the web's keys")
		switch name {
		case "web":
			if len(keys) != 2 || warnings != 0 {
				t.Fatalf("web user: keys %v, %d warnings; want a login and a presence key, no warning", keys, warnings)
			}
		case "reader":
			if len(keys) != 0 || warnings != 2 {
				t.Fatalf("read-only user: keys %v, %d warnings; want none written, 2 warnings:\n%s", keys, warnings, logged.String())
			}
		}
		admin.FlushAll(ctx)
	}
}
