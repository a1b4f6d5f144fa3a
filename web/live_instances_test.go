package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
	"github.com/helpdesk/helpdesk/web/presence"
)

// twin is a second web instance over st (the same database as e's), with
// e's users, tokens and leases.
func (e *env) twin(t testing.TB, st *store.Store, opts ...envOption) *env {
	t.Helper()
	cfg := Config{Store: st, Inspector: e.local.Inspector(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), StatusCacheTTL: -1}
	for _, o := range opts {
		o(&cfg)
	}
	srv := New(cfg)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Stop)
	twin := *e
	twin.store, twin.srv, twin.ts = st, srv, ts
	return &twin
}

// presenceRedis is a client for the presence board as a Redis user that
// may touch nothing but presence hashes (README: the web's Redis user).
func presenceRedis(t testing.TB, srv *testserver.Redis) *redis.Client {
	t.Helper()
	if err := srv.Client(t).Do(context.Background(), "ACL", "SETUSER", "web", "on", ">web-pw", "-@all",
		"+hset", "+hgetall", "+hdel", "+pexpire", "+multi", "+exec", "~helpdesk:presence:*").Err(); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "web", Password: "web-pw", DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// beat posts a presence heartbeat and returns who is on the conversation.
func (c *client) beat(convID int64, state string) presenceAnswer {
	c.t.Helper()
	resp, body := c.submit("/conversations/"+itoa(convID)+"/presence", url.Values{"state": {state}})
	var a presenceAnswer
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &a) != nil {
		c.t.Fatalf("presence: %d %s", resp.StatusCode, body)
	}
	return a
}

// TestLiveAcrossInstances: two web instances on one PostgreSQL and one
// Redis. A change made through either one reaches the event streams of
// the other (LISTEN/NOTIFY), and each sees who is on a conversation
// through the other (presence on Redis, as a user limited to it).
func TestLiveAcrossInstances(t *testing.T) {
	t.Parallel()
	rsrv := testserver.StartRedis(t)
	dbURL := teststore.URL(t, "postgres")
	stA, stB := teststore.OpenURL(t, dbURL, store.Options{}), teststore.OpenURL(t, dbURL, store.Options{})
	a := setup(t, "postgres", func(c *Config) { c.Store, c.Presence = stA, presence.NewRedis(presenceRedis(t, rsrv), 0) })
	b := a.twin(t, stB, func(c *Config) { c.Presence = presence.NewRedis(presenceRedis(t, rsrv), 0) })

	w := &workspace{env: a}
	w.mb1 = w.mailbox(t, 1)
	if err := w.store.SetUserMailboxes(context.Background(), w.agent.ID, []int64{w.mb1}); err != nil {
		t.Fatal(err)
	}
	conv := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "alice@customer.example"}, Subject: "Two instances", Text: "Hello"}).ConversationID

	onA := openStream(t, a.ts.URL, "/api/v1/events", bearer(a.agentToken))
	onB := openStream(t, b.ts.URL, "/events", http.Header{"Cookie": {b.session(t, b.agent).http.Jar.Cookies(mustURL(t, b.ts.URL))[0].String()}})

	agentOnA, adminOnB := a.session(t, a.agent), b.session(t, b.admin)
	if resp, body := agentOnA.submit("/conversations/"+itoa(conv)+"/notes", url.Values{"note": {"Written on A"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("note on A: %d %s", resp.StatusCode, body)
	}
	if resp, body := adminOnB.submit("/conversations/"+itoa(conv)+"/notes", url.Values{"note": {"Written on B"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("note on B: %d %s", resp.StatusCode, body)
	}
	both := []want{
		{helpdesk.EventConversationUpdated, conv, false}, {helpdesk.EventThreadCreated, conv, true},
		{helpdesk.EventConversationUpdated, conv, false}, {helpdesk.EventThreadCreated, conv, true},
	}
	gotA, gotB := expectEvents(t, onA, 0, both...), expectEvents(t, onB, 0, both...)
	for i := range gotA {
		if gotA[i].ID != gotB[i].ID {
			t.Fatalf("event %d: id %d on A, %d on B", i, gotA[i].ID, gotB[i].ID)
		}
	}

	// Presence: the admin writes a reply on B; the agent, on A, sees it.
	adminOnB.beat(conv, "typing")
	here := agentOnA.beat(conv, "viewing").Here
	if len(here) != 2 || here[0].UserID != a.admin.ID || !here[0].Typing || here[1].UserID != a.agent.ID || here[1].Typing {
		t.Fatalf("agent on A sees %+v; want the admin writing and itself viewing", here)
	}
	if resp, _ := adminOnB.submit("/conversations/"+itoa(conv)+"/presence", url.Values{"state": {"gone"}}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("leave: %d", resp.StatusCode)
	}
	if here := agentOnA.beat(conv, "viewing").Here; len(here) != 1 || here[0].UserID != a.agent.ID {
		t.Fatalf("after the admin left: %+v", here)
	}
}

func mustURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
