package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// conversationMarkUnread is POST /conversations/:id/unread: the agent
// wants the conversation bold in their list again. Back to the list, not
// the conversation, whose page would mark it read at once.
func (s *Server) conversationMarkUnread(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.SetRead(c.Request().Context(), viewer(c), id, false); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/?notice=marked-unread")
}

// apiMarkRead is POST /api/v1/conversations/:id/read: the caller read the
// conversation as it is now.
func (s *Server) apiMarkRead(c echo.Context) error {
	return s.apiSetRead(c, true)
}

// apiMarkUnread is DELETE /api/v1/conversations/:id/read: unread again
// for the caller.
func (s *Server) apiMarkUnread(c echo.Context) error {
	return s.apiSetRead(c, false)
}

// apiSetRead answers 200 with {"conversation_id": ID, "unread": bool}.
func (s *Server) apiSetRead(c echo.Context, read bool) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.SetRead(c.Request().Context(), viewer(c), id, read); err != nil {
		return err
	}
	// A conversation without a customer message is never unread.
	unread, err := s.cfg.Store.Unread(c.Request().Context(), viewer(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"conversation_id": id, "unread": unread})
}
