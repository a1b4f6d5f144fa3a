package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
	"github.com/helpdesk/helpdesk/locks"
	"github.com/helpdesk/helpdesk/web"
)

func TestMain(m *testing.M) { testserver.Main(m) }

// sessionCookie is the name of the web's session cookie, which a browser
// test sets for a session created in the store.
const sessionCookie = "hd_session"

const (
	adminEmail = "admin@example.com"
	agentEmail = "agent@example.com"
)

// env is a web server over a real database, with an admin and an agent,
// and the in-process leases that the fetcher takes and the server shows.
type env struct {
	store      *store.Store
	ts         *httptest.Server
	local      *locks.Local
	admin      *helpdesk.User
	agent      *helpdesk.User
	adminToken string
	agentToken string
}

// setup starts a server on a fresh database of the dialect.
func setup(t testing.TB, dialect string) *env {
	t.Helper()
	ctx := context.Background()
	st := teststore.Open(t, dialect)
	local := locks.NewLocal(locks.Options{TTL: time.Minute, Host: "test-host", PID: 4242, Instance: "inst-test"})
	srv := web.New(web.Config{
		Store:          st,
		Inspector:      local.Inspector(),
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		StatusCacheTTL: -1, // every load reads afresh
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Stop) // first: ends the event streams ts.Close waits for
	e := &env{store: st, ts: ts, local: local}
	var err error
	if e.admin, err = st.CreateUser(ctx, helpdesk.UserInput{Email: adminEmail, Name: "Ada Admin", Role: "admin", Password: "admin-password-1"}); err != nil {
		t.Fatal(err)
	}
	if e.agent, err = st.CreateUser(ctx, helpdesk.UserInput{Email: agentEmail, Name: "Aggie Agent", Role: "agent", Password: "agent-password-1"}); err != nil {
		t.Fatal(err)
	}
	if e.adminToken, _, err = st.CreateAPIToken(ctx, e.admin.ID, helpdesk.APITokenInput{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	if e.agentToken, _, err = st.CreateAPIToken(ctx, e.agent.ID, helpdesk.APITokenInput{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// call sends a JSON API request with a raw body ("" for none).
func (e *env) call(t *testing.T, token, method, path, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	var out map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, out, resp.Header
}

func convIDs(t *testing.T, out map[string]any) []int64 {
	t.Helper()
	ids := []int64{}
	list, ok := out["conversations"].([]any)
	if !ok {
		t.Fatalf("no conversations in %v", out)
	}
	for _, c := range list {
		ids = append(ids, int64(c.(map[string]any)["id"].(float64)))
	}
	return ids
}

// dovecotMailbox creates a mailbox on the Dovecot account and gives the
// agent access to it.
func dovecotMailbox(t *testing.T, e *env, d *testserver.Dovecot, user string) int64 {
	t.Helper()
	ctx := context.Background()
	host, port, _ := net.SplitHostPort(d.Addr())
	p, _ := strconv.Atoi(port)
	mb, err := e.store.CreateMailbox(ctx, helpdesk.MailboxInput{
		Name: "Support", Email: "support@example.test", IMAPHost: host, IMAPPort: p, IMAPSecurity: "none",
		IMAPUser: user, IMAPPassword: "secret-pass", Enabled: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetUserMailboxes(ctx, e.agent.ID, []int64{mb}); err != nil {
		t.Fatal(err)
	}
	return mb
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
