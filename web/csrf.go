package web

import (
	"crypto/subtle"
	"net/http"
	"net/url"

	"github.com/helpdesk/helpdesk/helpdesk/secret"
	"github.com/labstack/echo/v4"
)

// CSRF protection for page forms. A signed-in session has its own random
// token (stored with the session); every state-changing page route checks
// that the form field _csrf (or the X-CSRF-Token header) equals it; a token
// in the query string is not taken (URLs end up in logs and Referer). The
// login form, before there is a session, uses a double-submit cookie.
// Cross-site requests are also refused by their Origin header.

const (
	csrfField       = "_csrf"
	csrfHeader      = "X-CSRF-Token"
	loginCSRFCookie = "hd_login_csrf"
)

// csrfToken is the token to put in forms of this request's page.
func csrfToken(c echo.Context) string {
	if s := currentSession(c); s != nil {
		return s.CSRFToken
	}
	return ""
}

func (s *Server) requireCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !sameOrigin(c) {
			return echo.NewHTTPError(http.StatusForbidden, "cross-site request refused")
		}
		sess := currentSession(c)
		got := c.Request().Header.Get(csrfHeader)
		if got == "" {
			got = c.Request().PostFormValue(csrfField)
		}
		if sess == nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) != 1 {
			return echo.NewHTTPError(http.StatusForbidden, "the form's CSRF token is missing or wrong: reload the page and try again")
		}
		return next(c)
	}
}

// sameOrigin refuses a request whose Origin header names another site.
// Browsers send Origin on every cross-site POST.
func sameOrigin(c echo.Context) bool {
	o := c.Request().Header.Get(echo.HeaderOrigin)
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == c.Request().Host
}

func (s *Server) issueLoginCSRF(c echo.Context) string {
	if ck, err := c.Cookie(loginCSRFCookie); err == nil && len(ck.Value) == 43 {
		return ck.Value
	}
	token := secret.NewToken()
	c.SetCookie(&http.Cookie{
		Name:     loginCSRFCookie,
		Value:    token,
		Path:     "/login",
		HttpOnly: true,
		Secure:   s.secureCookies(c),
		SameSite: http.SameSiteStrictMode,
	})
	return token
}

func (s *Server) checkLoginCSRF(c echo.Context) bool {
	if !sameOrigin(c) {
		return false
	}
	ck, err := c.Cookie(loginCSRFCookie)
	got := c.Request().PostFormValue(csrfField)
	return err == nil && ck.Value != "" && subtle.ConstantTimeCompare([]byte(got), []byte(ck.Value)) == 1
}

func (s *Server) clearLoginCSRF(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: loginCSRFCookie, Value: "", Path: "/login", MaxAge: -1, HttpOnly: true,
		Secure: s.secureCookies(c), SameSite: http.SameSiteStrictMode})
}
