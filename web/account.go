package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// The signed-in user's own account: their details and password. Their API
// tokens are on /account/tokens (account_tokens.go).

type accountPage struct {
	Fields   map[string]string
	TimeZone string // as typed, kept when refused
}

func (s *Server) accountPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "account.html", "Your account", accountPage{TimeZone: currentUser(c).TimeZone})
}

// accountTimeZone sets the time zone in which the user's pages show times.
func (s *Server) accountTimeZone(c echo.Context) error {
	u := currentUser(c)
	zone := strings.TrimSpace(c.FormValue("time_zone"))
	err := s.cfg.Store.SetTimeZone(c.Request().Context(), u.ID, zone)
	if f := errorFields(err); f != nil {
		return s.render(c, statusOf(err), "account.html", "Your account", accountPage{Fields: f, TimeZone: zone})
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/account?notice=time-zone-saved")
}

// accountPassword changes the user's own password: the current one is
// required, and every other session of theirs ends (this one stays).
func (s *Server) accountPassword(c echo.Context) error {
	u := currentUser(c)
	keep := ""
	if ck, err := c.Cookie(sessionCookie); err == nil {
		keep = ck.Value
	}
	err := s.cfg.Store.ChangeOwnPassword(c.Request().Context(), u.ID,
		c.FormValue("current_password"), c.FormValue("new_password"), keep)
	if f := errorFields(err); f != nil {
		return s.render(c, statusOf(err), "account.html", "Your account", accountPage{Fields: f, TimeZone: u.TimeZone})
	}
	if err != nil {
		return err
	}
	s.log.Info("web: own password changed", "user_id", u.ID)
	return c.Redirect(http.StatusSeeOther, "/account?notice=password-changed")
}
