package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

const (
	sessionCookie = "hd_session"
	ctxUser       = "helpdesk.user"
	ctxSession    = "helpdesk.session"
)

// currentUser is the signed-in user of a request, nil when anonymous.
func currentUser(c echo.Context) *helpdesk.User {
	u, _ := c.Get(ctxUser).(*helpdesk.User)
	return u
}

// currentSession is the browser session of a page request, nil for API
// calls and anonymous visitors.
func currentSession(c echo.Context) *helpdesk.Session {
	s, _ := c.Get(ctxSession).(*helpdesk.Session)
	return s
}

// authenticate is the middleware a route gets from its row in the table:
// who the caller is (session cookie for pages, bearer token for the API),
// whether that role may call it, and the CSRF check for page forms.
func (s *Server) authenticate(r route) []echo.MiddlewareFunc {
	switch r.kind {
	case kindAPI:
		return []echo.MiddlewareFunc{noStore, s.bearerAuth, requireRole(r.role, r.kind)}
	case kindPage:
		mw := []echo.MiddlewareFunc{noStore, s.sessionAuth, requireRole(r.role, r.kind)}
		if r.role != rolePublic && !safeMethod(r.method) {
			mw = append(mw, s.requireCSRF)
		}
		return mw
	default:
		return nil
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sessionAuth loads the session of the cookie, if any and live.
func (s *Server) sessionAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ck, err := c.Cookie(sessionCookie)
		if err == nil && ck.Value != "" {
			sess, err := s.cfg.Store.SessionByToken(c.Request().Context(), ck.Value)
			switch {
			case err == nil:
				c.Set(ctxUser, sess.User)
				c.Set(ctxSession, sess)
			case errors.Is(err, helpdesk.ErrNotFound):
				s.clearSessionCookie(c)
			default:
				return err
			}
		}
		return next(c)
	}
}

// bearerAuth reads "Authorization: Bearer TOKEN".
func (s *Server) bearerAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			u, err := s.cfg.Store.UserByAPIToken(c.Request().Context(), strings.TrimSpace(token))
			switch {
			case err == nil:
				c.Set(ctxUser, u)
			case errors.Is(err, helpdesk.ErrNotFound):
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
				return echo.NewHTTPError(http.StatusUnauthorized, "unknown API token")
			default:
				return err
			}
		}
		return next(c)
	}
}

// requireRole refuses callers below the route's role: anonymous page
// visitors go to the login form, anonymous API callers get 401, users
// without the role 403.
func requireRole(need role, k kind) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if need == rolePublic {
				return next(c)
			}
			u := currentUser(c)
			if u == nil {
				if k == kindPage {
					return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
				}
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="helpdesk"`)
				return echo.NewHTTPError(http.StatusUnauthorized, "sign in: Authorization: Bearer TOKEN (helpdesk token create)")
			}
			if need == roleAdmin && !u.IsAdmin() {
				return echo.NewHTTPError(http.StatusForbidden, "admins only")
			}
			return next(c)
		}
	}
}

func (s *Server) setSessionCookie(c echo.Context, token string, expires time.Time) {
	c.SetCookie(&http.Cookie{
		Name:     sessionCookie,
		Value:    token,
		Path:     "/",
		Expires:  expires,
		HttpOnly: true,
		Secure:   s.secureCookies(c),
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearSessionCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{
		Name:     sessionCookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.secureCookies(c),
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) secureCookies(c echo.Context) bool {
	return strings.HasPrefix(s.cfg.PublicURL, "https://") || c.Request().TLS != nil
}
