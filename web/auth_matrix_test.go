package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// TestAuthorizationMatrix calls EVERY route of the route table as an
// anonymous visitor, an agent and an admin. A route added to the table is
// covered without touching this test.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		// An event stream answers and ends at once, so reading it ends.
		e := setup(t, dialect, func(c *Config) { c.EventStreamLifetime = time.Millisecond })
		ctx := context.Background()
		mbox := e.mailbox(t, 1)
		fence := e.fetched(t, mbox, nil)
		qid := e.quarantined(t, mbox, fence, 7)
		e.srv.cfg.TestConnection = func(context.Context, *helpdesk.Mailbox) error { return nil }
		// The token the revoke routes aim at: the admin's, so that the
		// agent's calls are refused and the admin's own API token stays.
		_, spare, err := e.store.CreateAPIToken(ctx, e.admin.ID, helpdesk.APITokenInput{Name: "spare"})
		if err != nil {
			t.Fatal(err)
		}

		path := func(r route) string {
			p := r.path
			switch {
			case strings.HasPrefix(p, "/admin/quarantine/"):
				p = strings.Replace(p, ":id", fmt.Sprint(qid), 1)
			case strings.HasPrefix(p, "/admin/users/"):
				p = strings.Replace(p, ":id", fmt.Sprint(e.agent.ID), 1)
			case strings.Contains(p, "/tokens/"):
				p = strings.Replace(p, ":id", fmt.Sprint(spare.ID), 1)
			default:
				p = strings.Replace(p, ":id", fmt.Sprint(mbox), 1)
			}
			// The agent workspace's parameters; any value reaches the
			// authorization check first.
			for _, param := range []string{":conversation", ":cid", ":name", ":tag", ":thread", ":attachment"} {
				p = strings.ReplaceAll(p, param, "1")
			}
			return strings.Replace(p, "*", "app.css", 1)
		}

		type caller struct {
			name string
			user *helpdesk.User
		}
		call := func(t *testing.T, who caller, r route) (*http.Response, string) {
			switch {
			case r.kind == kindAPI:
				token := ""
				switch who.user {
				case e.admin:
					token = e.adminToken
				case e.agent:
					token = e.agentToken
				}
				return e.api(t, token, r.method, path(r))
			case who.user == nil:
				c := e.anonymous(t)
				if safeMethod(r.method) {
					return c.get(path(r))
				}
				return c.post(path(r), url.Values{"_csrf": {"none"}})
			default:
				c := e.session(t, who.user) // a session of its own: logout ends only it
				if safeMethod(r.method) {
					return c.get(path(r))
				}
				return c.submit(path(r), nil)
			}
		}

		anonymous, agent, admin := caller{"anonymous", nil}, caller{"agent", e.agent}, caller{"admin", e.admin}
		check := func(t *testing.T, who caller, r route) {
			resp, body := call(t, who, r)
			loginRedirect := resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login?next=")
			denied := resp.StatusCode == http.StatusUnauthorized || loginRedirect ||
				(resp.StatusCode == http.StatusForbidden && strings.Contains(body, "admins only"))
			var want string
			switch {
			case r.role == rolePublic:
				if denied {
					want = "allowed"
				}
			case who.user == nil && r.kind == kindAPI:
				if resp.StatusCode != http.StatusUnauthorized {
					want = "401"
				}
			case who.user == nil:
				if !loginRedirect {
					want = "303 to /login"
				}
			case r.role == roleAdmin && !who.user.IsAdmin():
				if resp.StatusCode != http.StatusForbidden {
					want = "403"
				}
			default:
				if denied || resp.StatusCode == http.StatusForbidden {
					want = "allowed"
				}
			}
			if want != "" {
				t.Errorf("%s %s %s (%s, %s): got %d %s, want %s", who.name, r.method, r.path, r.role, r.kind,
					resp.StatusCode, resp.Header.Get("Location"), want)
			}
			if resp.StatusCode >= 500 {
				t.Errorf("%s %s %s: %d\n%s", who.name, r.method, r.path, resp.StatusCode, body)
			}
		}

		table := e.srv.routeTable
		if len(table) == 0 {
			t.Fatal("empty route table")
		}
		for _, who := range []caller{anonymous, agent} {
			for _, r := range table {
				check(t, who, r)
			}
		}
		// Refused callers changed nothing.
		if _, ids, _ := e.store.FetchChanges(ctx); len(ids) != 0 {
			t.Errorf("fetch requested by a refused caller: %v", ids)
		}
		if m, _ := e.store.Mailbox(ctx, mbox); !m.Enabled {
			t.Error("mailbox disabled by a refused caller")
		}
		if qs, _ := e.store.FetchHandle(mbox, 0).QuarantinedForRetry(ctx); len(qs) != 0 {
			t.Error("quarantine retried by a refused caller")
		}
		if ids, _ := e.store.UserMailboxIDs(ctx, e.agent.ID); len(ids) != 0 {
			t.Error("mailbox access changed by a refused caller")
		}
		if u, err := e.store.User(ctx, e.agent.ID); err != nil || u.Disabled() || u.Role != helpdesk.RoleAgent {
			t.Errorf("agent changed by a refused caller: %+v %v", u, err)
		}
		if tks, _ := e.store.APITokens(ctx, e.admin.ID); len(tks) != 2 {
			t.Errorf("admin's tokens after refused callers: %+v", tks)
		}
		for _, r := range table {
			check(t, admin, r)
		}
	})
}

// TestRouteTableIsComplete: every route echo serves comes from the table,
// and the table's roles and kinds agree with its paths.
func TestRouteTableIsComplete(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite")
	inTable := map[string]bool{}
	for _, r := range e.srv.routeTable {
		key := r.method + " " + r.path
		if inTable[key] {
			t.Errorf("%s twice in the route table", key)
		}
		inTable[key] = true
		if r.handler == nil {
			t.Errorf("%s has no handler", key)
		}
		if strings.HasPrefix(r.path, "/api/") != (r.kind == kindAPI) {
			t.Errorf("%s: kind %s; /api/ paths and only they are API routes", key, r.kind)
		}
		if strings.HasPrefix(r.path, "/api/") && !strings.HasPrefix(r.path, "/api/v1/") {
			t.Errorf("%s: API routes live under /api/v1/", key)
		}
		if strings.HasPrefix(r.path, "/admin") && r.role != roleAdmin {
			t.Errorf("%s: /admin pages are for admins, not %s", key, r.role)
		}
		if strings.HasPrefix(r.path, "/api/v1/mailboxes") && r.role != roleAdmin {
			t.Errorf("%s: the mailbox API is for admins, not %s", key, r.role)
		}
	}
	for _, r := range e.srv.echo.Routes() {
		if strings.HasPrefix(r.Method, "echo_") { // RouteNotFound
			continue
		}
		if !inTable[r.Method+" "+r.Path] {
			t.Errorf("%s %s is served but not in the route table", r.Method, r.Path)
		}
	}
}
