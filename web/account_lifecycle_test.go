package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// signedOut reports whether a page request was sent to the login form.
func signedOut(resp *http.Response) bool {
	return resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login")
}

// Disabling a user from their admin page stops their open session and
// their API token on the very next request, and their login; enabling
// them lets the token and a new login in again.
func TestDisabledUserIsShutOutAtOnce(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		admin := e.session(t, e.admin)
		agent := e.anonymous(t)
		if resp := agent.login(agentEmail, agentPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("agent login: %d", resp.StatusCode)
		}
		if resp, _ := agent.get("/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("agent's page before: %d", resp.StatusCode)
		}
		userPage := "/admin/users/" + itoa(e.agent.ID)

		resp, _ := admin.submit(userPage+"/disabled", url.Values{"disabled": {"true"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("disable: %d", resp.StatusCode)
		}
		if resp, _ := agent.get("/"); !signedOut(resp) {
			t.Errorf("disabled user's session: %d %s, want the login form", resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp, body := e.api(t, e.agentToken, http.MethodGet, "/api/v1/conversations"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("disabled user's token: %d %s, want 401", resp.StatusCode, body)
		}
		if resp := e.anonymous(t).login(agentEmail, agentPassword); resp.StatusCode == http.StatusSeeOther {
			t.Error("a disabled user signed in")
		}
		if _, body := admin.get(userPage); !strings.Contains(body, `data-field="user-status">disabled`) {
			t.Errorf("user page does not say disabled:\n%s", body)
		}
		if _, body := admin.get("/admin/users"); !strings.Contains(body, `data-field="user-status">disabled`) {
			t.Errorf("user list does not say disabled")
		}

		resp, _ = admin.submit(userPage+"/disabled", url.Values{"disabled": {"false"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("enable: %d", resp.StatusCode)
		}
		if resp, _ := e.api(t, e.agentToken, http.MethodGet, "/api/v1/conversations"); resp.StatusCode != http.StatusOK {
			t.Errorf("token after enabling: %d", resp.StatusCode)
		}
		again := e.anonymous(t)
		if resp := again.login(agentEmail, agentPassword); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("login after enabling: %d", resp.StatusCode)
		}
		if resp, _ := again.get("/"); resp.StatusCode != http.StatusOK {
			t.Errorf("page after enabling: %d", resp.StatusCode)
		}

		// Admins cannot disable themselves, nor the form a bad value.
		resp, body := admin.submit("/admin/users/"+itoa(e.admin.ID)+"/disabled", url.Values{"disabled": {"true"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "not on your own account") {
			t.Errorf("self-disable: %d\n%s", resp.StatusCode, body)
		}
		if resp, _ := admin.submit(userPage+"/disabled", url.Values{"disabled": {"maybe"}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("disabled=maybe: %d", resp.StatusCode)
		}
	})
}

// A role change applies to the user's open session at once.
func TestRoleChangeTakesEffect(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		admin := e.session(t, e.admin)
		agent := e.session(t, e.agent)
		userPage := "/admin/users/" + itoa(e.agent.ID)
		if resp, _ := agent.get("/admin/status"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("agent on the status page: %d", resp.StatusCode)
		}
		if resp, _ := admin.submit(userPage+"/role", url.Values{"role": {"admin"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("promote: %d", resp.StatusCode)
		}
		if resp, _ := agent.get("/admin/status"); resp.StatusCode != http.StatusOK {
			t.Errorf("promoted agent on the status page: %d", resp.StatusCode)
		}
		if resp, _ := e.api(t, e.agentToken, http.MethodGet, "/api/v1/mailboxes"); resp.StatusCode != http.StatusOK {
			t.Errorf("promoted agent's token on the admin API: %d", resp.StatusCode)
		}
		// A bad role is refused on the page, the choice kept.
		resp, body := admin.submit(userPage+"/role", url.Values{"role": {"root"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="role"`) {
			t.Errorf("role root: %d\n%s", resp.StatusCode, body)
		}
		if resp, _ := admin.submit(userPage+"/role", url.Values{"role": {"agent"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("demote: %d", resp.StatusCode)
		}
		if resp, _ := agent.get("/admin/status"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("demoted agent on the status page: %d", resp.StatusCode)
		}
		if _, body := admin.get(userPage); !strings.Contains(body, `<option value="agent" selected>`) {
			t.Errorf("user page does not show the role:\n%s", body)
		}
	})
}

// Deleting a user from their page hands their open conversations to the
// chosen user; past notes keep their name; nothing happens without a
// choice, and the choice is kept on the error.
func TestDeleteUserFromAdminPage(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		ctx := context.Background()
		heir, err := w.store.CreateUser(ctx, helpdesk.UserInput{Email: "heir@example.com", Name: "Hal Heir", Role: "agent", Password: "heir-password-1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.store.SetUserMailboxes(ctx, heir.ID, []int64{w.mb1}); err != nil {
			t.Fatal(err)
		}
		agentID := w.agent.ID
		if err := w.store.UpdateConversation(ctx, helpdesk.ViewerOf(w.admin), w.c1, helpdesk.ConversationChange{AssigneeID: &agentID}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.store.AddNote(ctx, helpdesk.ViewerOf(w.agent), w.c1, "Checked the printer.", 0); err != nil {
			t.Fatal(err)
		}
		admin := w.session(t, w.admin)
		userPage := "/admin/users/" + itoa(agentID)
		_, body := admin.get(userPage)
		if !strings.Contains(body, `<option value="`+itoa(heir.ID)+`">Hal Heir`) {
			t.Fatalf("the heir is not offered:\n%s", body)
		}

		resp, body := admin.submit(userPage+"/delete", url.Values{})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="reassign_to"`) {
			t.Errorf("delete without a choice: %d\n%s", resp.StatusCode, body)
		}
		resp, body = admin.submit(userPage+"/delete", url.Values{"reassign_to": {itoa(agentID)}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="reassign_to"`) {
			t.Errorf("reassign to the deleted user: %d\n%s", resp.StatusCode, body)
		}
		if _, err := w.store.User(ctx, agentID); err != nil {
			t.Fatalf("a refused delete deleted: %v", err)
		}
		resp, _ = admin.submit(userPage+"/delete", url.Values{"reassign_to": {itoa(heir.ID)}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/users?notice=user-deleted" {
			t.Fatalf("delete: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		d, err := w.store.Conversation(ctx, helpdesk.ViewerOf(w.admin), w.c1)
		if err != nil {
			t.Fatal(err)
		}
		if d.AssigneeID == nil || *d.AssigneeID != heir.ID {
			t.Errorf("conversation assignee %v, want the heir %d", d.AssigneeID, heir.ID)
		}
		_, body = admin.get("/conversations/" + itoa(w.c1))
		if !strings.Contains(body, "Checked the printer.") || !strings.Contains(body, "Aggie Agent") {
			t.Errorf("the deleted user's note lost its author:\n%s", body)
		}
		if _, body := admin.get("/admin/users"); strings.Contains(body, agentEmail) {
			t.Error("deleted user still listed")
		}
		if resp, _ := admin.get(userPage); resp.StatusCode != http.StatusNotFound {
			t.Errorf("deleted user's page: %d", resp.StatusCode)
		}
		if resp, _ := w.api(t, w.agentToken, http.MethodGet, "/api/v1/conversations"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("deleted user's token: %d", resp.StatusCode)
		}
	})
}

// Changing one's own password needs the current one, keeps this session
// and ends the others; an admin's reset ends them all.
func TestPasswordChangeAndReset(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		here, elsewhere := e.anonymous(t), e.anonymous(t)
		for _, c := range []*client{here, elsewhere} {
			if resp := c.login(agentEmail, agentPassword); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login: %d", resp.StatusCode)
			}
		}
		resp, body := here.submit("/account/password", url.Values{"current_password": {"wrong-password"}, "new_password": {"a-new-password-1"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="current_password"`) {
			t.Fatalf("wrong current password: %d\n%s", resp.StatusCode, body)
		}
		resp, body = here.submit("/account/password", url.Values{"current_password": {agentPassword}, "new_password": {"short"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="new_password"`) {
			t.Fatalf("short new password: %d\n%s", resp.StatusCode, body)
		}
		if resp, _ := elsewhere.get("/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("a refused change signed out another session: %d", resp.StatusCode)
		}
		resp, _ = here.submit("/account/password", url.Values{"current_password": {agentPassword}, "new_password": {"a-new-password-1"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("change: %d", resp.StatusCode)
		}
		if resp, _ := here.get("/account"); resp.StatusCode != http.StatusOK {
			t.Errorf("the changing session ended: %d", resp.StatusCode)
		}
		if resp, _ := elsewhere.get("/"); !signedOut(resp) {
			t.Errorf("another session survived the change: %d", resp.StatusCode)
		}
		if resp := e.anonymous(t).login(agentEmail, agentPassword); resp.StatusCode == http.StatusSeeOther {
			t.Error("the old password still works")
		}
		if resp := e.anonymous(t).login(agentEmail, "a-new-password-1"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("the new password: %d", resp.StatusCode)
		}

		admin := e.session(t, e.admin)
		userPage := "/admin/users/" + itoa(e.agent.ID)
		resp, body = admin.submit(userPage+"/password", url.Values{"password": {"short"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="password"`) {
			t.Errorf("short reset: %d\n%s", resp.StatusCode, body)
		}
		if resp, _ := admin.submit(userPage+"/password", url.Values{"password": {"reset-by-admin-1"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("reset: %d", resp.StatusCode)
		}
		if resp, _ := here.get("/"); !signedOut(resp) {
			t.Errorf("a session survived the reset: %d", resp.StatusCode)
		}
		if resp := e.anonymous(t).login(agentEmail, "reset-by-admin-1"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("the reset password: %d", resp.StatusCode)
		}
	})
}

var newTokenField = regexp.MustCompile(`value="(hd_[^"]+)" data-field="new-token"`)

// The tokens page creates a named token shown once, lists it with created
// and last use, and revokes it; an expired token is refused; admins see
// and revoke everyone's; the JSON API does the same.
func TestAPITokensPageAndAPI(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		agent := e.session(t, e.agent)

		resp, body := agent.submit("/account/tokens", url.Values{"name": {""}, "expires_in_days": {"30"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="name"`) || !strings.Contains(body, `value="30"`) {
			t.Fatalf("token without a name: %d\n%s", resp.StatusCode, body)
		}
		resp, body = agent.submit("/account/tokens", url.Values{"name": {"Reporting script"}, "expires_in_days": {"99999"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="expires_in_days"`) || !strings.Contains(body, `value="Reporting script"`) {
			t.Fatalf("token for 99999 days: %d\n%s", resp.StatusCode, body)
		}
		resp, body = agent.submit("/account/tokens", url.Values{"name": {"Reporting script"}, "expires_in_days": {"30"}})
		m := newTokenField.FindStringSubmatch(body)
		if resp.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("create: %d\n%s", resp.StatusCode, body)
		}
		token := m[1]
		if _, body := agent.get("/account/tokens"); strings.Contains(body, token) {
			t.Error("the token's secret is shown again")
		}
		row := func(c *client, name string) string {
			t.Helper()
			_, body := c.get("/account/tokens")
			i := strings.Index(body, name)
			if i < 0 {
				return ""
			}
			return body[strings.LastIndex(body[:i], "<tr"):][:strings.Index(body[strings.LastIndex(body[:i], "<tr"):], "</tr>")]
		}
		if r := row(agent, "Reporting script"); !strings.Contains(r, `data-field="token-last-used">never`) || !strings.Contains(r, " UTC") {
			t.Errorf("new token's row: %s", r)
		}
		if resp, _ := e.api(t, token, http.MethodGet, "/api/v1/conversations"); resp.StatusCode != http.StatusOK {
			t.Fatalf("new token: %d", resp.StatusCode)
		}
		if r := row(agent, "Reporting script"); strings.Contains(r, `token-last-used">never`) {
			t.Errorf("last use not shown after use: %s", r)
		}

		// Expired: refused, and shown as expired.
		tks, _ := e.store.APITokens(context.Background(), e.agent.ID)
		var id int64
		for _, tk := range tks {
			if tk.Name == "Reporting script" {
				id = tk.ID
			}
		}
		db := teststore.RawDB(t, e.dbURL)
		if _, err := db.Exec(db.Rebind("UPDATE api_tokens SET expires_at = ? WHERE id = ?"), time.Now().UTC().Add(-time.Minute), id); err != nil {
			t.Fatal(err)
		}
		if resp, _ := e.api(t, token, http.MethodGet, "/api/v1/conversations"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("expired token: %d", resp.StatusCode)
		}
		if r := row(agent, "Reporting script"); !strings.Contains(r, "expired") {
			t.Errorf("expired token's row: %s", r)
		}
		if _, err := db.Exec(db.Rebind("UPDATE api_tokens SET expires_at = NULL WHERE id = ?"), id); err != nil {
			t.Fatal(err)
		}

		// Another user's token cannot be revoked by an agent; the owner can.
		adminTokens, _ := e.store.APITokens(context.Background(), e.admin.ID)
		if resp, _ := agent.submit("/account/tokens/"+itoa(adminTokens[0].ID)+"/revoke", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("agent revoking the admin's token: %d", resp.StatusCode)
		}
		if resp, _ := agent.submit("/account/tokens/"+itoa(id)+"/revoke", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %d", resp.StatusCode)
		}
		if resp, _ := e.api(t, token, http.MethodGet, "/api/v1/conversations"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("revoked token: %d", resp.StatusCode)
		}

		// Admins see everyone's tokens and revoke them.
		admin := e.session(t, e.admin)
		_, body = admin.get("/account/tokens")
		if !strings.Contains(body, "Everyone's tokens") || !strings.Contains(body, agentEmail) {
			t.Errorf("admin's tokens page lacks the agent's token:\n%s", body)
		}
		agentTokens, _ := e.store.APITokens(context.Background(), e.agent.ID)
		if resp, _ := admin.submit("/account/tokens/"+itoa(agentTokens[0].ID)+"/revoke", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("admin revoking the agent's token: %d", resp.StatusCode)
		}
		if resp, _ := e.api(t, e.agentToken, http.MethodGet, "/api/v1/conversations"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("token revoked by the admin: %d", resp.StatusCode)
		}

		// The JSON API: create (secret once), list, revoke.
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/api/v1/tokens", strings.NewReader(`{"name":"CI","expires_in_days":7}`))
		req.Header.Set("Authorization", "Bearer "+e.adminToken)
		resp, body = e.anonymous(t).do(req)
		var created struct {
			ID        int64      `json:"id"`
			Name      string     `json:"name"`
			Token     string     `json:"token"`
			ExpiresAt *time.Time `json:"expires_at"`
		}
		if err := json.Unmarshal([]byte(body), &created); resp.StatusCode != http.StatusCreated || err != nil || created.Name != "CI" || created.ExpiresAt == nil {
			t.Fatalf("API create: %d %s", resp.StatusCode, body)
		}
		resp, body = e.api(t, created.Token, http.MethodGet, "/api/v1/tokens")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"name":"CI"`) || strings.Contains(body, created.Token) {
			t.Errorf("API list: %d %s", resp.StatusCode, body)
		}
		if resp, _ := e.api(t, e.adminToken, http.MethodDelete, "/api/v1/tokens/"+itoa(created.ID)); resp.StatusCode != http.StatusNoContent {
			t.Errorf("API revoke: %d", resp.StatusCode)
		}
		if resp, _ := e.api(t, created.Token, http.MethodGet, "/api/v1/tokens"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("token revoked over the API: %d", resp.StatusCode)
		}
	})
}

// Bad input to the account forms is a 422 naming the field, on the page,
// without echoing markup or a password, and changes nothing.
func TestAccountFormsBadInput(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		e := setup(t, dialect)
		ctx := context.Background()
		admin := e.session(t, e.admin)
		agent := e.session(t, e.agent)
		const script = "<script>alert(1)</script>"
		huge := strings.Repeat("x", 100_000)
		userPage := "/admin/users/" + itoa(e.agent.ID)
		cases := []struct {
			c      *client
			path   string
			field  string // the field set to each value
			other  url.Values
			values []string
			errFor string // the field whose error shows
		}{
			{admin, userPage + "/role", "role", nil, []string{"root", "", script, huge}, "role"},
			{admin, userPage + "/disabled", "disabled", nil, []string{"maybe", script, "", huge}, "disabled"},
			{admin, userPage + "/password", "password", nil, []string{"short", strings.Repeat("p", 5000), ""}, "password"},
			{admin, userPage + "/delete", "reassign_to", nil, []string{"", "abc", "-5", script, "99999999999999999999", "424242", huge}, "reassign_to"},
			{agent, "/account/password", "new_password", url.Values{"current_password": {agentPassword}}, []string{"short", strings.Repeat("p", 5000), ""}, "new_password"},
			{agent, "/account/password", "current_password", url.Values{"new_password": {"a-new-password-1"}}, []string{"", "wrong-password", huge}, "current_password"},
			{agent, "/account/tokens", "name", url.Values{"expires_in_days": {"7"}}, []string{"", "  ", script, "a\nb", huge}, "name"},
			{agent, "/account/tokens", "expires_in_days", url.Values{"name": {"ok"}}, []string{"abc", "0", "-1", "3651", "1.5", script, huge}, "expires_in_days"},
		}
		for _, tc := range cases {
			for _, v := range tc.values {
				f := url.Values{}
				for k, vs := range tc.other {
					f[k] = vs
				}
				f.Set(tc.field, v)
				resp, body := tc.c.submit(tc.path, f)
				if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-field-error="`+tc.errFor+`"`) {
					t.Errorf("%s %s=%.20q: %d", tc.path, tc.field, v, resp.StatusCode)
				}
				if strings.Contains(body, "<script>alert") || strings.Contains(body, agentPassword) || strings.Contains(body, "a-new-password-1") {
					t.Errorf("%s %s=%.20q: echoed markup or a password", tc.path, tc.field, v)
				}
			}
		}
		u, err := e.store.User(ctx, e.agent.ID)
		if err != nil || u.Disabled() || u.Role != helpdesk.RoleAgent {
			t.Errorf("agent changed by bad input: %+v %v", u, err)
		}
		if _, err := e.store.Authenticate(ctx, agentEmail, agentPassword); err != nil {
			t.Errorf("password changed by bad input: %v", err)
		}
		if tks, _ := e.store.APITokens(ctx, e.agent.ID); len(tks) != 1 {
			t.Errorf("tokens after bad input: %+v", tks)
		}
	})
}
