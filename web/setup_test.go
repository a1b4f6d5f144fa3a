package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
	"github.com/helpdesk/helpdesk/locks"
)

func TestMain(m *testing.M) { testserver.Main(m) }

const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin-password-1"
	agentEmail    = "agent@example.com"
	agentPassword = "agent-password-1"
)

// env is a web server over a real database, with an admin and an agent.
type env struct {
	store      *store.Store
	dbURL      string // for a raw connection of the test's own (teststore.RawDB)
	srv        *Server
	ts         *httptest.Server
	local      *locks.Local // the leases the server's inspector sees (unless another inspector was given)
	admin      *helpdesk.User
	agent      *helpdesk.User
	adminToken string
	agentToken string
}

type envOption func(*Config)

// setup starts a server on a fresh database of the dialect.
func setup(t testing.TB, dialect string, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	dbURL := teststore.URL(t, dialect)
	st := teststore.OpenURL(t, dbURL, store.Options{})
	local := locks.NewLocal(locks.Options{TTL: time.Minute, Host: "test-host", PID: 4242, Instance: "inst-test"})
	cfg := Config{
		Store:     st,
		Inspector: local.Inspector(),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		// Every load reads afresh, so tests see their changes at once;
		// TestStatusCache and the benchmark use the cache.
		StatusCacheTTL: -1,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if shared, ok := cfg.Store.(*store.Store); ok {
		st = shared // an option may share another's database (or wrap st)
	}
	srv := New(cfg)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Stop) // first: ends the event streams ts.Close waits for
	e := &env{store: st, dbURL: dbURL, srv: srv, ts: ts, local: local}
	var err error
	if e.admin, err = st.CreateUser(ctx, helpdesk.UserInput{Email: adminEmail, Name: "Ada Admin", Role: "admin", Password: adminPassword}); err != nil {
		t.Fatal(err)
	}
	if e.agent, err = st.CreateUser(ctx, helpdesk.UserInput{Email: agentEmail, Name: "Aggie Agent", Role: "agent", Password: agentPassword}); err != nil {
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

// forEachDialect runs test on SQLite and PostgreSQL, in parallel.
func forEachDialect(t *testing.T, test func(t *testing.T, dialect string)) {
	for _, d := range teststore.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			test(t, d)
		})
	}
}

// client is a browser: a cookie jar, no automatic redirects.
type client struct {
	t    testing.TB
	base string
	http *http.Client
	csrf string // the session's CSRF token, once signed in
	// forwardedFor, when set, is sent as X-Forwarded-For: the client as
	// a reverse proxy would name it.
	forwardedFor string
}

func (e *env) anonymous(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: e.ts.URL, http: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// session returns a client signed in as u without going through the
// login form (cheap: no password hashing).
func (e *env) session(t testing.TB, u *helpdesk.User) *client {
	t.Helper()
	c := e.anonymous(t)
	token, sess, err := e.store.CreateSession(context.Background(), u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(e.ts.URL)
	c.http.Jar.SetCookies(base, []*http.Cookie{{Name: sessionCookie, Value: token, Path: "/"}})
	c.csrf = sess.CSRFToken
	return c
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// login signs in through the form, as a browser does.
func (c *client) login(email, password string) *http.Response {
	c.t.Helper()
	return c.submitLogin(c.loginCSRF(), email, password)
}

// loginCSRF opens the login form and returns its CSRF token.
func (c *client) loginCSRF() string {
	c.t.Helper()
	_, body := c.get("/login")
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF field on the login form:\n%s", body)
	}
	return m[1]
}

// submitLogin posts the login form opened by loginCSRF.
func (c *client) submitLogin(csrf, email, password string) *http.Response {
	c.t.Helper()
	resp, _ := c.post("/login", url.Values{"_csrf": {csrf}, "email": {email}, "password": {password}})
	if resp.StatusCode == http.StatusSeeOther {
		_, body := c.get(resp.Header.Get("Location"))
		if m := csrfInput.FindStringSubmatch(body); m != nil {
			c.csrf = m[1]
		}
	}
	return resp
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	if c.forwardedFor != "" {
		req.Header.Set(echo.HeaderXForwardedFor, c.forwardedFor)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form as is (add _csrf yourself, or use submit).
func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// submit posts a form with the session's CSRF token.
func (c *client) submit(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("_csrf", c.csrf)
	return c.post(path, form)
}

// api calls the JSON API with a bearer token ("" for none).
func (e *env) api(t testing.TB, token, method, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.anonymous(t).do(req)
}

// mailboxInput is a valid mailbox; n makes the address unique.
func mailboxInput(n int) helpdesk.MailboxInput {
	return helpdesk.MailboxInput{
		Name:         fmt.Sprintf("Support %d", n),
		Email:        fmt.Sprintf("support%d@example.com", n),
		IMAPHost:     "imap.example.com",
		IMAPPort:     993,
		IMAPSecurity: "tls",
		IMAPUser:     fmt.Sprintf("support%d", n),
		IMAPPassword: "imap-secret-password",
		Folders:      []string{"INBOX"},
		Enabled:      true,
	}
}

func (e *env) mailbox(t testing.TB, n int) int64 {
	t.Helper()
	id, err := e.store.CreateMailbox(context.Background(), mailboxInput(n))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// fetched records what a fetch run leaves in the database: a claimed
// fence, a finished run, progress and the result. It returns the fence.
func (e *env) fetched(t testing.TB, mailboxID int64, runErr error) int64 {
	t.Helper()
	ctx := context.Background()
	fence, err := e.store.Fence(ctx, mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	fence++
	if err := e.store.ClaimFence(ctx, mailboxID, fence); err != nil {
		t.Fatal(err)
	}
	h := e.store.FetchHandle(mailboxID, fence)
	runID, err := h.StartRun(ctx, "schedule", "test-host/4242")
	if err != nil {
		t.Fatal(err)
	}
	run := helpdesk.FetchRun{ID: runID, MailboxID: mailboxID, New: 3, Duplicates: 1, Quarantined: 1}
	if runErr != nil {
		run.Error = runErr.Error()
	}
	if err := h.FinishRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := h.SaveProgress(ctx, "INBOX", 1700000001, 57); err != nil {
		t.Fatal(err)
	}
	if err := h.RecordResult(ctx, "INBOX", runErr); err != nil {
		t.Fatal(err)
	}
	return fence
}

// quarantined puts one message of the mailbox into quarantine.
func (e *env) quarantined(t testing.TB, mailboxID, fence int64, uid uint32) int64 {
	t.Helper()
	ctx := context.Background()
	src := helpdesk.MessageSource{MailboxID: mailboxID, Folder: "INBOX", UIDValidity: 1700000001, UID: uid, Fence: fence}
	if err := e.store.FetchHandle(mailboxID, fence).Quarantine(ctx, src, []byte("Subject: broken\r\n\r\n\x00\x01"), 16, true, "cannot parse: bad MIME <boundary>"); err != nil {
		t.Fatal(err)
	}
	qs, err := e.store.Quarantined(ctx, mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if q.UID == uid {
			return q.ID
		}
	}
	t.Fatal("quarantined message not listed")
	return 0
}

var errIMAPLogin = errors.New(`imap: login: NO [AUTHENTICATIONFAILED] Authentication failed. <script>alert(1)</script>`)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
