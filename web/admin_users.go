package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// usersPage lists users with their mailbox access and the new-user form.
type usersPage struct {
	Users     []userRow
	Mailboxes []helpdesk.Mailbox
	V         map[string]string // the new-user form as typed (never the password)
	Fields    map[string]string
}

type userRow struct {
	helpdesk.User
	MailboxIDs []int64
}

func (s *Server) adminUsers(c echo.Context) error {
	return s.renderUsers(c, http.StatusOK, map[string]string{"role": helpdesk.RoleAgent}, nil)
}

func (s *Server) renderUsers(c echo.Context, status int, v, fields map[string]string) error {
	ctx := c.Request().Context()
	users, err := s.cfg.Store.Users(ctx)
	if err != nil {
		return err
	}
	mbs, err := s.cfg.Store.Mailboxes(ctx)
	if err != nil {
		return err
	}
	p := usersPage{Mailboxes: mbs, V: v, Fields: fields}
	for _, u := range users {
		ids, err := s.cfg.Store.UserMailboxIDs(ctx, u.ID)
		if err != nil {
			return err
		}
		p.Users = append(p.Users, userRow{User: u, MailboxIDs: ids})
	}
	return s.render(c, status, "admin_users.html", "Users", p)
}

func (s *Server) adminUserCreate(c echo.Context) error {
	in := helpdesk.UserInput{
		Email:    c.FormValue("email"),
		Name:     c.FormValue("name"),
		Role:     c.FormValue("role"),
		Password: c.FormValue("password"),
	}
	v := map[string]string{"email": in.Email, "name": in.Name, "role": in.Role}
	fields := map[string]string{}
	for _, name := range []string{"email", "name"} {
		if msg := badText(v[name], false); msg != "" {
			fields[name] = msg
			v[name] = ""
		}
	}
	if len(v["role"]) > 20 {
		v["role"] = ""
	}
	if err := in.Validate(); err != nil {
		for k, m := range errorFields(err) {
			if _, seen := fields[k]; !seen {
				fields[k] = m
			}
		}
	}
	if len(fields) > 0 {
		return s.renderUsers(c, http.StatusUnprocessableEntity, v, fields)
	}
	u, err := s.cfg.Store.CreateUser(c.Request().Context(), in)
	if f := errorFields(err); f != nil {
		return s.renderUsers(c, statusOf(err), v, f)
	}
	if err != nil {
		return err
	}
	s.log.Info("web: user created", "new_user_id", u.ID, "role", u.Role, "user_id", currentUser(c).ID)
	return c.Redirect(http.StatusSeeOther, "/admin/users?notice=user-created")
}

// adminUserMailboxes sets which mailboxes an agent works on (checkboxes
// named "mailbox" with mailbox IDs).
func (s *Server) adminUserMailboxes(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	raw := form["mailbox"]
	if len(raw) > 10000 {
		return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"mailbox": "too many mailboxes"}}
	}
	ids := make([]int64, 0, len(raw))
	for _, r := range raw {
		n, err := strconv.ParseInt(r, 10, 64)
		if err != nil || n <= 0 {
			return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"mailbox": "each must be a mailbox ID"}}
		}
		ids = append(ids, n)
	}
	ctx := c.Request().Context()
	if _, err := s.cfg.Store.User(ctx, id); err != nil {
		return err
	}
	if err := s.cfg.Store.SetUserMailboxes(ctx, id, ids); err != nil {
		return err
	}
	s.log.Info("web: mailbox access saved", "for_user_id", id, "mailboxes", len(ids), "user_id", currentUser(c).ID)
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/users?notice=access-saved#user-%d", id))
}
