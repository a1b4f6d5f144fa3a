package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// API tokens: every user creates, lists and revokes their own; admins
// also see and revoke everyone's. A new token's secret is shown once, in
// the answer to the form that created it.

type tokensPage struct {
	Mine    []helpdesk.APIToken
	All     []helpdesk.APIToken // everyone's, for admins
	New     string              // the secret of the token just created
	NewName string
	V       map[string]string // the form as typed
	Fields  map[string]string
	Now     time.Time
}

func (s *Server) accountTokens(c echo.Context) error {
	return s.renderTokens(c, http.StatusOK, tokensPage{})
}

func (s *Server) renderTokens(c echo.Context, status int, p tokensPage) error {
	ctx := c.Request().Context()
	u := currentUser(c)
	var err error
	if p.Mine, err = s.cfg.Store.APITokens(ctx, u.ID); err != nil {
		return err
	}
	if u.IsAdmin() {
		if p.All, err = s.cfg.Store.APITokens(ctx, 0); err != nil {
			return err
		}
	}
	p.Now = time.Now()
	return s.render(c, status, "account_tokens.html", "API tokens", p)
}

func (s *Server) accountTokenCreate(c echo.Context) error {
	in, v, fields := parseTokenForm(c.FormValue("name"), c.FormValue("expires_in_days"))
	if len(fields) > 0 {
		return s.renderTokens(c, http.StatusUnprocessableEntity, tokensPage{V: v, Fields: fields})
	}
	token, tk, err := s.cfg.Store.CreateAPIToken(c.Request().Context(), currentUser(c).ID, in)
	if f := errorFields(err); f != nil {
		return s.renderTokens(c, statusOf(err), tokensPage{V: v, Fields: f})
	}
	if err != nil {
		return err
	}
	s.log.Info("web: API token created", "token_id", tk.ID, "user_id", currentUser(c).ID)
	return s.renderTokens(c, http.StatusOK, tokensPage{New: token, NewName: tk.Name})
}

// parseTokenForm reads the new-token form: the values as typed and every
// problem, the domain's included.
func parseTokenForm(name, days string) (helpdesk.APITokenInput, map[string]string, map[string]string) {
	in := helpdesk.APITokenInput{Name: name}
	v := map[string]string{"name": name, "expires_in_days": days}
	fields := map[string]string{}
	if msg := badText(name, false); msg != "" {
		fields["name"] = msg
		v["name"] = ""
	}
	if d := strings.TrimSpace(days); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 {
			n = -1 // named by Validate
		}
		in.ExpiresInDays = n
		if len(d) > 30 {
			v["expires_in_days"] = ""
		}
	}
	for k, m := range errorFields(in.Validate()) {
		if _, seen := fields[k]; !seen {
			fields[k] = m
		}
	}
	return in, v, fields
}

// accountTokenRevoke revokes one of the user's tokens, or any token for
// an admin; another user's token is not found.
func (s *Server) accountTokenRevoke(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.RevokeAPIToken(c.Request().Context(), id, tokenOwnerScope(currentUser(c))); err != nil {
		return err
	}
	s.log.Info("web: API token revoked", "token_id", id, "user_id", currentUser(c).ID)
	return c.Redirect(http.StatusSeeOther, "/account/tokens?notice=token-revoked")
}

// tokenOwnerScope is whose tokens a user may revoke: their own, or
// everyone's (0) for an admin.
func tokenOwnerScope(u *helpdesk.User) int64 {
	if u.IsAdmin() {
		return 0
	}
	return u.ID
}
