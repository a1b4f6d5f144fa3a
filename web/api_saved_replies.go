package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Saved replies over the JSON API: every user lists and reads those they
// may use (the global ones and those of their mailboxes); admins create,
// change and delete them (saved_replies.go is the admin page).

// apiSavedReplies lists them by name; ?mailbox=ID only those that apply
// to that mailbox.
func (s *Server) apiSavedReplies(c echo.Context) error {
	var mailboxID int64
	if raw := strings.TrimSpace(c.QueryParam("mailbox")); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			return &fieldError{status: http.StatusBadRequest, fields: map[string]string{"mailbox": "must be a mailbox id"}}
		}
		mailboxID = n
	}
	rs, err := s.cfg.Store.SavedReplies(c.Request().Context(), viewer(c), mailboxID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rs)
}

func (s *Server) apiSavedReply(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	r, err := s.cfg.Store.SavedReply(c.Request().Context(), viewer(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// apiSavedReplyCreate takes {"name", "body", "mailbox_id" (null or absent:
// every mailbox)} and answers 201 with the saved reply.
func (s *Server) apiSavedReplyCreate(c echo.Context) error {
	var in helpdesk.SavedReplyInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	id, err := s.cfg.Store.CreateSavedReply(c.Request().Context(), in)
	if err != nil {
		return err
	}
	s.log.Info("web: saved reply created", "saved_reply_id", id, "user_id", currentUser(c).ID, "via", "api")
	return s.answerSavedReply(c, http.StatusCreated, id)
}

// apiSavedReplyUpdate replaces name, body and mailbox_id.
func (s *Server) apiSavedReplyUpdate(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	var in helpdesk.SavedReplyInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := s.cfg.Store.UpdateSavedReply(c.Request().Context(), id, in); err != nil {
		return err
	}
	s.log.Info("web: saved reply saved", "saved_reply_id", id, "user_id", currentUser(c).ID, "via", "api")
	return s.answerSavedReply(c, http.StatusOK, id)
}

func (s *Server) apiSavedReplyDelete(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteSavedReply(c.Request().Context(), id); err != nil {
		return err
	}
	s.log.Info("web: saved reply deleted", "saved_reply_id", id, "user_id", currentUser(c).ID, "via", "api")
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) answerSavedReply(c echo.Context, status int, id int64) error {
	r, err := s.cfg.Store.SavedReply(c.Request().Context(), viewer(c), id)
	if err != nil {
		return err
	}
	return c.JSON(status, r)
}
