package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// The page of one user, for admins: role, disable/enable, password reset
// and delete with reassignment. Admins do not act on their own account
// here (they would lock themselves out); /account is theirs.

// userPage is the page of one user and its forms' errors.
type userPage struct {
	User   *helpdesk.User
	Self   bool
	Others []helpdesk.User   // active users who can take over open conversations
	V      map[string]string // the forms as typed (never a password)
	Fields map[string]string
}

func (s *Server) adminUser(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	return s.renderUser(c, http.StatusOK, id, nil, nil)
}

func (s *Server) renderUser(c echo.Context, status int, id int64, v, fields map[string]string) error {
	ctx := c.Request().Context()
	u, err := s.cfg.Store.User(ctx, id)
	if err != nil {
		return err
	}
	users, err := s.cfg.Store.Users(ctx)
	if err != nil {
		return err
	}
	p := userPage{User: u, Self: u.ID == currentUser(c).ID, V: v, Fields: fields}
	if p.V == nil {
		p.V = map[string]string{"role": u.Role}
	}
	for _, o := range users {
		if o.ID != u.ID && !o.Disabled() {
			p.Others = append(p.Others, o)
		}
	}
	return s.render(c, status, "admin_user.html", u.Name, p)
}

// finishUserAction answers a user-page form: its field errors on the page
// as typed, else back to the page (or the list) with a notice.
func (s *Server) finishUserAction(c echo.Context, id int64, v map[string]string, err error, to string) error {
	if f := errorFields(err); f != nil {
		return s.renderUser(c, statusOf(err), id, v, f)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// notSelf refuses an admin's action on their own account.
func notSelf(c echo.Context, id int64, field string) error {
	if id == currentUser(c).ID {
		return &helpdesk.ValidationError{Fields: map[string]string{field: "not on your own account: another admin can do this"}}
	}
	return nil
}

func (s *Server) adminUserRole(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	role := c.FormValue("role")
	v := map[string]string{"role": role}
	if len(role) > 20 {
		v["role"] = ""
	}
	err = notSelf(c, id, "role")
	if err == nil {
		err = s.cfg.Store.SetUserRole(c.Request().Context(), id, role)
	}
	if err == nil {
		s.log.Info("web: role changed", "for_user_id", id, "role", role, "user_id", currentUser(c).ID)
	}
	return s.finishUserAction(c, id, v, err, fmt.Sprintf("/admin/users/%d?notice=role-saved", id))
}

func (s *Server) adminUserDisabled(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	disabled, ok := parseBool(c.FormValue("disabled"))
	if !ok || c.FormValue("disabled") == "" {
		return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"disabled": "must be true or false"}}
	}
	err = notSelf(c, id, "status")
	if err == nil {
		err = s.cfg.Store.SetUserDisabled(c.Request().Context(), id, disabled)
	}
	notice := "user-enabled"
	if disabled {
		notice = "user-disabled"
	}
	if err == nil {
		s.log.Info("web: "+notice, "for_user_id", id, "user_id", currentUser(c).ID)
	}
	return s.finishUserAction(c, id, nil, err, fmt.Sprintf("/admin/users/%d?notice=%s", id, notice))
}

func (s *Server) adminUserPassword(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	err = s.cfg.Store.ResetPassword(c.Request().Context(), id, c.FormValue("password"))
	if err == nil {
		s.log.Info("web: password reset", "for_user_id", id, "user_id", currentUser(c).ID)
	}
	return s.finishUserAction(c, id, nil, err, fmt.Sprintf("/admin/users/%d?notice=password-reset", id))
}

// adminUserDelete deletes a user; reassign_to is "none" (open
// conversations unassigned) or the ID of the user who takes them over.
func (s *Server) adminUserDelete(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	raw := c.FormValue("reassign_to")
	v := map[string]string{"reassign_to": raw}
	if len(raw) > 20 {
		v["reassign_to"] = ""
	}
	to, err := parseReassignTo(raw)
	if err == nil {
		err = notSelf(c, id, "status")
	}
	if err == nil {
		var r helpdesk.Reassigned
		r, err = s.cfg.Store.DeleteUser(c.Request().Context(), id, to, currentUser(c).ID)
		if err == nil {
			s.log.Info("web: user deleted", "deleted_user_id", id, "reassigned", r.ToUser, "unassigned", r.Unassigned, "user_id", currentUser(c).ID)
		}
	}
	return s.finishUserAction(c, id, v, err, "/admin/users?notice=user-deleted")
}

// parseReassignTo reads the delete form's choice: "none" is 0.
func parseReassignTo(raw string) (int64, error) {
	switch raw {
	case "none":
		return 0, nil
	case "":
		return 0, &helpdesk.ValidationError{Fields: map[string]string{"reassign_to": "choose who takes over the open conversations, or nobody"}}
	}
	to, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || to <= 0 {
		return 0, &helpdesk.ValidationError{Fields: map[string]string{"reassign_to": "must be a user ID or none"}}
	}
	return to, nil
}
