package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/web/presence"
)

// presenceAnswer is the heartbeat's answer: everyone on the conversation
// (the caller too, marked by its user id).
type presenceAnswer struct {
	UserID int64            `json:"user_id"`
	Here   []presence.Entry `json:"here"`
}

// conversationPresence is the conversation page's heartbeat, about once a
// second: state "viewing", "typing" (writing a reply) or "gone" (the page
// closes). It answers who is on the conversation now.
func (s *Server) conversationPresence(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	state := c.FormValue("state")
	if state != "viewing" && state != "typing" && state != "gone" {
		return &fieldError{status: http.StatusBadRequest, fields: map[string]string{"state": "must be viewing, typing or gone"}}
	}
	v := viewer(c)
	if _, err := s.cfg.Store.ConversationMailbox(ctx, v, id); err != nil {
		return err
	}
	u := currentUser(c)
	if state == "gone" {
		if err := s.cfg.Presence.Leave(ctx, id, u.ID); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
	here, err := s.cfg.Presence.Beat(ctx, id, presence.Entry{UserID: u.ID, Name: u.Name, Typing: state == "typing"})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, presenceAnswer{UserID: u.ID, Here: here})
}
