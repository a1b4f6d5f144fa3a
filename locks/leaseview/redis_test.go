package leaseview

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/internal/testserver"
)

func TestRedisInspectorErrors(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	c := srv.Client(t)
	ctx := context.Background()
	// A value that is not ours is reported held, holder unknown.
	if err := c.Set(ctx, Key(3), "garbage", 0).Err(); err != nil {
		t.Fatal(err)
	}
	st, err := NewRedisInspector(c).Inspect(ctx, 3)
	if err != nil || !st.Held || st.Holder != nil {
		t.Fatalf("foreign value: %+v, %v", st, err)
	}
	srv.Kill()
	if _, err := NewRedisInspector(c).Inspect(ctx, 3); err == nil || errors.Is(err, redis.Nil) {
		t.Fatalf("Inspect with Redis down: %v, want an error", err)
	}
}
