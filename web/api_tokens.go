package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// The API tokens of the caller, over the JSON API: the same rules as the
// page (account_tokens.go). GET lists the caller's tokens, or with
// ?all=true everyone's for an admin.

func (s *Server) apiTokens(c echo.Context) error {
	u := currentUser(c)
	owner := u.ID
	switch c.QueryParam("all") {
	case "", "false":
	case "true":
		if !u.IsAdmin() {
			return echo.NewHTTPError(http.StatusForbidden, "admins only")
		}
		owner = 0
	default:
		return &fieldError{status: http.StatusBadRequest, fields: map[string]string{"all": "must be true or false"}}
	}
	tks, err := s.cfg.Store.APITokens(c.Request().Context(), owner)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tks)
}

// apiTokenCreate takes {"name": ..., "expires_in_days": N (optional)} and
// answers 201 with the token's listing and its secret, shown this once.
func (s *Server) apiTokenCreate(c echo.Context) error {
	var in struct {
		Name          string `json:"name"`
		ExpiresInDays int    `json:"expires_in_days"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	token, tk, err := s.cfg.Store.CreateAPIToken(c.Request().Context(), currentUser(c).ID,
		helpdesk.APITokenInput{Name: in.Name, ExpiresInDays: in.ExpiresInDays})
	if err != nil {
		return err
	}
	s.log.Info("web: API token created", "token_id", tk.ID, "user_id", currentUser(c).ID, "via", "api")
	return c.JSON(http.StatusCreated, struct {
		*helpdesk.APIToken
		Token string `json:"token"`
	}{tk, token})
}

func (s *Server) apiTokenRevoke(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.RevokeAPIToken(c.Request().Context(), id, tokenOwnerScope(currentUser(c))); err != nil {
		return err
	}
	s.log.Info("web: API token revoked", "token_id", id, "user_id", currentUser(c).ID, "via", "api")
	return c.NoContent(http.StatusNoContent)
}
