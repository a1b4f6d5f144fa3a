package web

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/testserver"
)

// checkedStore counts the passwords the real store checks and can make
// a check wait until the test lets it go on.
type checkedStore struct {
	Store
	checks  atomic.Int64
	entered chan struct{} // receives when a check starts, if set
	proceed chan struct{} // a check waits for it, if set
}

func (s *checkedStore) Authenticate(ctx context.Context, email, password string) (*helpdesk.User, error) {
	s.checks.Add(1)
	if s.entered != nil {
		s.entered <- struct{}{}
		<-s.proceed
	}
	return s.Store.Authenticate(ctx, email, password)
}

// withCheckedStore puts a checkedStore in front of the server's store.
func withCheckedStore(cs *checkedStore) envOption {
	return func(c *Config) {
		cs.Store = c.Store
		c.Store = cs
	}
}

// attemptSharing runs test with the server's attempts counted in this
// process and on a real Redis.
func attemptSharing(t *testing.T, test func(t *testing.T, attempts func() LoginAttempts)) {
	t.Run("local", func(t *testing.T) {
		t.Parallel()
		test(t, NewLocalLoginAttempts)
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		rsrv := testserver.StartRedis(t)
		test(t, func() LoginAttempts { return NewRedisLoginAttempts(rsrv.Client(t)) })
	})
}

func trustLoopbackProxy(c *Config) {
	_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
	c.TrustedProxies = []*net.IPNet{loopback}
}

func statusCounts(codes []int) map[int]int {
	counts := map[int]int{}
	for _, c := range codes {
		counts[c]++
	}
	return counts
}

// Parallel wrong passwords are counted before they are checked: no more
// than the limit get a password check, the rest are refused at once.
func TestLoginParallelWrongPasswordsCheckedUpToLimit(t *testing.T) {
	t.Parallel()
	attemptSharing(t, func(t *testing.T, attempts func() LoginAttempts) {
		const limit, tries = 10, 40
		cs := &checkedStore{}
		e := setup(t, "sqlite", withCheckedStore(cs), func(c *Config) {
			c.LoginAttempts = attempts()
			c.LoginLimit = limit
			c.PasswordCheckWait = time.Minute // queued checks wait, however slow argon2 is here
		})
		clients := make([]*client, tries)
		csrf := make([]string, tries)
		for i := range clients {
			clients[i] = e.anonymous(t)
			csrf[i] = clients[i].loginCSRF()
		}
		codes := make([]int, tries)
		var start, done sync.WaitGroup
		start.Add(1)
		for i := range clients {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				codes[i] = clients[i].submitLogin(csrf[i], agentEmail, "wrong-password").StatusCode
			}()
		}
		start.Done()
		done.Wait()
		counts := statusCounts(codes)
		if got := cs.checks.Load(); got > limit {
			t.Fatalf("%d passwords checked, want at most %d (answers %v)", got, limit, counts)
		}
		if counts[http.StatusUnauthorized] != int(cs.checks.Load()) || counts[http.StatusTooManyRequests] != tries-int(cs.checks.Load()) {
			t.Fatalf("answers %v after %d checks: want 401 for each check, 429 for the rest", counts, cs.checks.Load())
		}
	})
}

// Password checks run a bounded number at once; a sign-in that cannot
// start one in time gets 503, and that attempt does not count against it.
func TestLoginPasswordChecksBounded(t *testing.T) {
	t.Parallel()
	cs := &checkedStore{entered: make(chan struct{}, 10), proceed: make(chan struct{})}
	e := setup(t, "sqlite", withCheckedStore(cs), func(c *Config) {
		c.PasswordChecks = 1
		c.PasswordCheckWait = 50 * time.Millisecond
		c.LoginLimit = 1
	})
	first, second := e.anonymous(t), e.anonymous(t)
	firstCSRF, secondCSRF := first.loginCSRF(), second.loginCSRF()
	firstCode := make(chan int, 1)
	go func() { firstCode <- first.submitLogin(firstCSRF, agentEmail, agentPassword).StatusCode }()
	<-cs.entered // the first check holds the only slot
	resp := second.submitLogin(secondCSRF, adminEmail, adminPassword)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("sign-in while the check slot is taken: %d, Retry-After %q; want 503 with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := cs.checks.Load(); got != 1 {
		t.Fatalf("%d checks started, want only the first", got)
	}
	close(cs.proceed) // this and later checks go on
	if code := <-firstCode; code != http.StatusSeeOther {
		t.Fatalf("first sign-in: %d", code)
	}
	// The turned-away attempt was not counted: with a limit of 1 the
	// admin still gets in.
	if resp := e.anonymous(t).login(adminEmail, adminPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in after the 503: %d", resp.StatusCode)
	}
}

// Failures from one address lock that address out of the account, not
// the account's owner at another address.
func TestLoginFailuresFromOneAddressDoNotBlockAnother(t *testing.T) {
	t.Parallel()
	attemptSharing(t, func(t *testing.T, attempts func() LoginAttempts) {
		e := setup(t, "sqlite", trustLoopbackProxy, func(c *Config) {
			c.LoginAttempts = attempts()
			c.LoginLimit = 3
			c.LoginWindow = time.Hour
		})
		attacker := e.anonymous(t)
		attacker.forwardedFor = "198.51.100.7"
		for i := range 3 {
			if resp := attacker.login(agentEmail, "wrong-password"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("wrong password %d: %d", i, resp.StatusCode)
			}
		}
		if resp := attacker.login(agentEmail, agentPassword); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("the failing address past the limit: %d, want 429", resp.StatusCode)
		}
		owner := e.anonymous(t)
		owner.forwardedFor = "203.0.113.20"
		if resp := owner.login(agentEmail, agentPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the right password from another address: %d, want 303", resp.StatusCode)
		}
	})
}

// Past the limit from all addresses together, an account takes one
// attempt per backoff interval, which doubles: the right password gets in
// once the interval is over, long before the window ends.
func TestLoginBackoffPerAccount(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	e := setup(t, "sqlite", trustLoopbackProxy, func(c *Config) {
		c.LoginAttempts = newLocalAttempts(clock.now)
		c.LoginLimit = 2
		c.LoginWindow = 24 * time.Hour
		c.LoginBackoff = time.Minute
	})
	from := func(addr string) *client {
		c := e.anonymous(t)
		c.forwardedFor = addr
		return c
	}
	for i, want := range []int{http.StatusUnauthorized, http.StatusUnauthorized} {
		if resp := from("198.51.100.1").login(agentEmail, "wrong-password"); resp.StatusCode != want {
			t.Fatalf("attempt %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	// The third attempt at the account, from a new address, is checked
	// and starts a minute's backoff.
	if resp := from("198.51.100.2").login(agentEmail, "wrong-password"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("first attempt past the limit: %d, want 401", resp.StatusCode)
	}
	resp := from("203.0.113.20").login(agentEmail, agentPassword)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" {
		t.Fatalf("within the backoff: %d, Retry-After %q; want 429 after 60s", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	clock.advance(time.Minute)
	if resp := from("203.0.113.20").login(agentEmail, agentPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("right password after the backoff: %d, want 303", resp.StatusCode)
	}
	// Further wrong passwords double the wait: the attempt counted 6th
	// in the window (the sign-in that succeeded is not counted) holds
	// the account for 2^(6-2-1) minutes.
	clock.advance(time.Hour)
	from("198.51.100.3").login(agentEmail, "wrong-password")
	clock.advance(time.Hour)
	from("198.51.100.3").login(agentEmail, "wrong-password")
	resp = from("198.51.100.4").login(agentEmail, "wrong-password")
	if got := resp.Header.Get("Retry-After"); resp.StatusCode != http.StatusTooManyRequests || got != strconv.Itoa(8*60) {
		t.Fatalf("after more failures: %d, Retry-After %q; want 429 after 8 minutes", resp.StatusCode, got)
	}
}

// On Redis the backoff holds for every instance and address alike.
func TestLoginBackoffPerAccountOnRedis(t *testing.T) {
	t.Parallel()
	rsrv := testserver.StartRedis(t)
	e := setup(t, "sqlite", trustLoopbackProxy, func(c *Config) {
		c.LoginAttempts = NewRedisLoginAttempts(rsrv.Client(t))
		c.LoginLimit = 1
		c.LoginBackoff = time.Hour
	})
	for i, addr := range []string{"198.51.100.1", "198.51.100.2"} {
		c := e.anonymous(t)
		c.forwardedFor = addr
		if resp := c.login(agentEmail, "wrong-password"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d, want 401", i, resp.StatusCode)
		}
	}
	c := e.anonymous(t)
	c.forwardedFor = "203.0.113.20"
	resp := c.login(agentEmail, agentPassword)
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || retry < 3000 || retry > 3600 {
		t.Fatalf("within the backoff: %d, Retry-After %q; want 429 within the hour", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// Web instances on one Redis share the count.
func TestLoginLimitSharedByInstancesOnRedis(t *testing.T) {
	t.Parallel()
	rsrv := testserver.StartRedis(t)
	limits := func(c *Config) {
		c.LoginAttempts = NewRedisLoginAttempts(rsrv.Client(t))
		c.LoginLimit = 3
	}
	e := setup(t, "sqlite", limits)
	cfg := Config{Store: e.store, Inspector: e.local.Inspector(), Logger: e.srv.cfg.Logger}
	limits(&cfg)
	ts2 := httptest.NewServer(New(cfg).Handler())
	t.Cleanup(ts2.Close)
	other := func() *client {
		c := e.anonymous(t)
		c.base = ts2.URL
		return c
	}
	for i, c := range []*client{e.anonymous(t), other(), e.anonymous(t)} {
		if resp := c.login(agentEmail, "wrong-password"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i, resp.StatusCode)
		}
	}
	for name, c := range map[string]*client{"first": e.anonymous(t), "second": other()} {
		if resp := c.login(agentEmail, agentPassword); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("%s instance after 3 failures on both: %d, want 429", name, resp.StatusCode)
		}
	}
}

// X-Forwarded-For names the client only when a trusted proxy sends it.
func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	addressLimit := func(c *Config) { c.LoginAddressLimit = 2; c.LoginWindow = time.Hour }
	as := func(e *env, xff string) *client {
		c := e.anonymous(t)
		c.forwardedFor = xff
		return c
	}
	t.Run("trusted", func(t *testing.T) {
		t.Parallel()
		e := setup(t, "sqlite", trustLoopbackProxy, addressLimit)
		for range 2 {
			as(e, "198.51.100.7").login(agentEmail, "wrong-password")
		}
		if resp := as(e, "198.51.100.7").login(adminEmail, adminPassword); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("the limited client: %d, want 429", resp.StatusCode)
		}
		// A client that puts a made-up address in front is still the
		// address our proxy appended.
		if resp := as(e, "10.9.9.9, 198.51.100.7").login(adminEmail, adminPassword); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("the limited client behind a made-up address: %d, want 429", resp.StatusCode)
		}
		if resp := as(e, "203.0.113.20").login(adminEmail, adminPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("another client through the proxy: %d, want 303", resp.StatusCode)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		t.Parallel()
		e := setup(t, "sqlite", addressLimit, func(c *Config) {
			_, elsewhere, _ := net.ParseCIDR("10.0.0.0/8")
			c.TrustedProxies = []*net.IPNet{elsewhere}
		})
		for range 2 {
			as(e, "198.51.100.7").login(agentEmail, "wrong-password")
		}
		if resp := as(e, "203.0.113.20").login(adminEmail, adminPassword); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("a spoofed X-Forwarded-For from an untrusted peer: %d, want 429 (the peer's address is limited)", resp.StatusCode)
		}
	})
}

// Without its Redis, sign-in answers 503 with the form, not a 500, and
// checks no password.
func TestLoginWhenAttemptsCannotBeCounted(t *testing.T) {
	t.Parallel()
	rsrv := testserver.StartRedis(t)
	cs := &checkedStore{}
	e := setup(t, "sqlite", withCheckedStore(cs), func(c *Config) { c.LoginAttempts = NewRedisLoginAttempts(rsrv.Client(t)) })
	c := e.anonymous(t)
	csrf := c.loginCSRF()
	rsrv.Kill()
	resp, body := c.post("/login", url.Values{"_csrf": {csrf}, "email": {agentEmail}, "password": {agentPassword}})
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(body, "Signing in is unavailable") || !strings.Contains(body, agentEmail) {
		t.Fatalf("sign-in with Redis down: %d, Retry-After %q; want 503 with the form and the typed address:\n%s",
			resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if n := cs.checks.Load(); n != 0 {
		t.Fatalf("%d passwords checked without counting", n)
	}
}
