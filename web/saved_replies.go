package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Saved replies, for admins: a list with the form for a new one, and a
// page per reply to edit or delete it. Agents insert them on the
// conversation page (composer.go).

type savedRepliesPage struct {
	Replies   []helpdesk.SavedReply
	Mailboxes []helpdesk.MailboxRef
	Form      savedReplyForm
}

// savedReplyForm is the create/edit form: the values as typed and the
// errors by field.
type savedReplyForm struct {
	ID     int64 // 0 when creating
	V      map[string]string
	Fields map[string]string
}

func (s *Server) adminSavedReplies(c echo.Context) error {
	return s.renderSavedReplies(c, http.StatusOK, savedReplyForm{V: map[string]string{}})
}

func (s *Server) renderSavedReplies(c echo.Context, status int, f savedReplyForm) error {
	ctx := c.Request().Context()
	rs, err := s.cfg.Store.SavedReplies(ctx, viewer(c), 0)
	if err != nil {
		return err
	}
	mbs, err := s.cfg.Store.VisibleMailboxes(ctx, viewer(c))
	if err != nil {
		return err
	}
	return s.render(c, status, "admin_saved_replies.html", "Saved replies", savedRepliesPage{Replies: rs, Mailboxes: mbs, Form: f})
}

func (s *Server) adminSavedReplyCreate(c echo.Context) error {
	in, f := parseSavedReplyForm(c)
	if len(f.Fields) == 0 {
		id, err := s.cfg.Store.CreateSavedReply(c.Request().Context(), in)
		if f.Fields = errorFields(err); f.Fields == nil {
			if err != nil {
				return err
			}
			s.log.Info("web: saved reply created", "saved_reply_id", id, "user_id", currentUser(c).ID)
			return c.Redirect(http.StatusSeeOther, "/admin/saved-replies?notice=saved-reply-new")
		}
	}
	return s.renderSavedReplies(c, http.StatusUnprocessableEntity, f)
}

func (s *Server) adminSavedReply(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	r, err := s.cfg.Store.SavedReply(c.Request().Context(), viewer(c), id)
	if err != nil {
		return err
	}
	f := savedReplyForm{ID: r.ID, V: map[string]string{"name": r.Name, "body": r.Body}}
	if r.MailboxID != nil {
		f.V["mailbox"] = itoa(*r.MailboxID)
	}
	return s.renderSavedReply(c, http.StatusOK, f)
}

func (s *Server) renderSavedReply(c echo.Context, status int, f savedReplyForm) error {
	mbs, err := s.cfg.Store.VisibleMailboxes(c.Request().Context(), viewer(c))
	if err != nil {
		return err
	}
	return s.render(c, status, "admin_saved_reply.html", "Edit saved reply", savedRepliesPage{Mailboxes: mbs, Form: f})
}

func (s *Server) adminSavedReplyUpdate(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	in, f := parseSavedReplyForm(c)
	f.ID = id
	if len(f.Fields) == 0 {
		err := s.cfg.Store.UpdateSavedReply(c.Request().Context(), id, in)
		if f.Fields = errorFields(err); f.Fields == nil {
			if err != nil {
				return err
			}
			s.log.Info("web: saved reply saved", "saved_reply_id", id, "user_id", currentUser(c).ID)
			return c.Redirect(http.StatusSeeOther, "/admin/saved-replies?notice=saved")
		}
	}
	return s.renderSavedReply(c, http.StatusUnprocessableEntity, f)
}

func (s *Server) adminSavedReplyDelete(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteSavedReply(c.Request().Context(), id); err != nil {
		return err
	}
	s.log.Info("web: saved reply deleted", "saved_reply_id", id, "user_id", currentUser(c).ID)
	return c.Redirect(http.StatusSeeOther, "/admin/saved-replies?notice=saved-reply-gone")
}

// parseSavedReplyForm reads name, body and mailbox (a mailbox id, or
// empty for every mailbox); the domain checks the rest.
func parseSavedReplyForm(c echo.Context) (helpdesk.SavedReplyInput, savedReplyForm) {
	f := savedReplyForm{V: map[string]string{}, Fields: map[string]string{}}
	for _, k := range []string{"name", "body", "mailbox"} {
		f.V[k] = c.FormValue(k)
	}
	in := helpdesk.SavedReplyInput{Name: f.V["name"], Body: f.V["body"]}
	if raw := strings.TrimSpace(f.V["mailbox"]); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id < 1 {
			f.Fields["mailbox_id"] = "must be a mailbox, or every mailbox"
		}
		in.MailboxID = &id
	}
	return in, f
}
