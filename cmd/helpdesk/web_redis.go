package main

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/web"
	"github.com/helpdesk/helpdesk/web/presence"
)

// The web writes to Redis for two things only: sign-in attempts and
// presence, each under keys of its own. A web whose Redis user may only
// read the locks (DESIGN.md, invariant 2: README's ACL without the
// selectors) keeps them in this process instead, and says so once at
// start, rather than failing every sign-in and heartbeat.

// loginAttempts are counted on Redis when the web may write there, so
// that all web instances share the sign-in limits; else in this process.
func loginAttempts(ctx context.Context, deps *lockDeps, logger *slog.Logger) web.LoginAttempts {
	if deps.redis == nil || !webMayWrite(ctx, deps.redis, logger, "sign-in attempts", func(ctx context.Context) error {
		return deps.redis.PExpire(ctx, "helpdesk:login:probe", time.Millisecond).Err()
	}) {
		return web.NewLocalLoginAttempts()
	}
	return web.NewRedisLoginAttempts(deps.redis)
}

// presenceBoard shares presence between web instances on Redis when the
// web may write there; else (and in the embedded mode) it stays in the
// process.
func presenceBoard(ctx context.Context, deps *lockDeps, logger *slog.Logger) presence.Board {
	if deps.redis == nil || !webMayWrite(ctx, deps.redis, logger, "presence", func(ctx context.Context) error {
		return deps.redis.HDel(ctx, presence.Key(0), "probe").Err()
	}) {
		return presence.NewLocal(0)
	}
	return presence.NewRedis(deps.redis, 0)
}

// webMayWrite runs probe, a write that changes nothing, and reports false
// only when Redis refuses it for want of permission. Redis being down is
// not a refusal: the feature then answers 503 until it is back.
func webMayWrite(ctx context.Context, rdb *redis.Client, logger *slog.Logger, what string, probe func(context.Context) error) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := probe(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		return true
	}
	logger.Warn("the Redis user may not write the web's keys: "+what+" are kept per web instance", "err", err)
	return false
}
