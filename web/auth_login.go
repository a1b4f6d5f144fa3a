package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

type loginData struct {
	Email     string
	Next      string
	LoginCSRF string
	Error     string
	Fields    map[string]string
}

func (s *Server) loginForm(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	if currentUser(c) != nil {
		return c.Redirect(http.StatusSeeOther, next)
	}
	return s.renderLogin(c, http.StatusOK, loginData{Next: next})
}

func (s *Server) renderLogin(c echo.Context, status int, d loginData) error {
	d.LoginCSRF = s.issueLoginCSRF(c)
	return s.render(c, status, "login.html", "Sign in", d)
}

func (s *Server) login(c echo.Context) error {
	ctx := c.Request().Context()
	d := loginData{Email: c.FormValue("email"), Next: safeNext(c.FormValue("next"))}
	if !s.checkLoginCSRF(c) {
		d.Email = ""
		d.Error = "The form expired. Please sign in again."
		return s.renderLogin(c, http.StatusForbidden, d)
	}
	password := c.FormValue("password")
	fields := map[string]string{}
	if len(d.Email) > 254 || !utf8.ValidString(d.Email) || strings.TrimSpace(d.Email) == "" {
		fields["email"] = "enter the e-mail address you sign in with (at most 254 characters)"
	}
	if password == "" || len(password) > 1024 {
		fields["password"] = "enter your password (at most 1024 characters)"
	}
	if len(fields) > 0 {
		if len(d.Email) > 254 || !utf8.ValidString(d.Email) {
			d.Email = ""
		}
		d.Fields = fields
		s.metrics.logins.WithLabelValues("invalid").Inc()
		return s.renderLogin(c, http.StatusUnprocessableEntity, d)
	}
	ip := c.RealIP()
	email := strings.ToLower(strings.TrimSpace(d.Email))
	try, wait, err := s.limiter.admit(ctx, ip, email)
	if err != nil {
		s.log.Error("web: count login attempt", "err", err)
		return s.loginLater(c, d, "unavailable", http.StatusServiceUnavailable, 5*time.Second,
			"Signing in is unavailable for a moment. Please try again.")
	}
	if wait > 0 {
		s.log.Warn("web: login rate limited", "ip", ip) // not the address, as for a failed login
		return s.loginLater(c, d, "limited", http.StatusTooManyRequests, wait,
			"Too many sign-in attempts. Wait a little and try again.")
	}
	u, err := s.checkPassword(ctx, email, password)
	if errors.Is(err, helpdesk.ErrBadCredentials) {
		s.metrics.logins.WithLabelValues("failed").Inc()
		s.log.Info("web: login failed", "ip", ip) // not the address: it may be a password typed in the wrong field
		d.Error = "Wrong e-mail address or password."
		return s.renderLogin(c, http.StatusUnauthorized, d)
	}
	// Anything but a wrong password is not the client's failure.
	if undoErr := s.limiter.takeBack(context.WithoutCancel(ctx), try); undoErr != nil {
		s.log.Warn("web: take back login attempt", "err", undoErr)
	}
	if errors.Is(err, errPasswordChecksBusy) {
		return s.loginLater(c, d, "busy", http.StatusServiceUnavailable, time.Second,
			"Many people are signing in right now. Please try again.")
	}
	if err != nil {
		return err
	}
	token, sess, err := s.cfg.Store.CreateSession(ctx, u.ID, s.cfg.SessionTTL)
	if err != nil {
		return err
	}
	// Sign-ins are rare: a good moment to drop the sessions that expired.
	if _, err := s.cfg.Store.DeleteExpiredSessions(ctx); err != nil {
		s.log.Warn("web: delete expired sessions", "err", err)
	}
	s.metrics.logins.WithLabelValues("ok").Inc()
	s.log.Info("web: signed in", "user_id", u.ID, "ip", ip)
	s.setSessionCookie(c, token, sess.ExpiresAt)
	s.clearLoginCSRF(c)
	next := d.Next
	if next == "/" && u.IsAdmin() {
		next = "/admin/status"
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// checkPassword checks the password, a bounded number at once.
func (s *Server) checkPassword(ctx context.Context, email, password string) (*helpdesk.User, error) {
	release, err := s.passwordChecks.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return s.cfg.Store.Authenticate(ctx, email, password)
}

// loginLater answers a sign-in that was not checked: the form again, with
// Retry-After.
func (s *Server) loginLater(c echo.Context, d loginData, result string, status int, wait time.Duration, msg string) error {
	s.metrics.logins.WithLabelValues(result).Inc()
	c.Response().Header().Set(echo.HeaderRetryAfter, itoa(int64((wait+time.Second-1)/time.Second)))
	d.Error = msg
	return s.renderLogin(c, status, d)
}

func (s *Server) logout(c echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil {
		if err := s.cfg.Store.DeleteSession(c.Request().Context(), ck.Value); err != nil {
			return err
		}
	}
	s.clearSessionCookie(c)
	return c.Redirect(http.StatusSeeOther, "/login")
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if next == "" || len(next) > 2000 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n\t") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	return next
}
