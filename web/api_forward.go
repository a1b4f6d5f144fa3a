package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// apiForward is POST /api/v1/conversations/:id/forward {"to": "...",
// "note": "...", "version": N}: the conversation is forwarded as on its
// page (ForwardConversation). 201 with the forward's message_id and the
// note that records it, whose delivery is the forward mail's. Bad input
// is 422 naming "to" or "note"; a stale version 409.
func (s *Server) apiForward(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		To      *string `json:"to"`
		Note    string  `json:"note"`
		Version *int64  `json:"version"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.To == nil {
		return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"to": "required"}}
	}
	seen, err := seenVersion(c, in.Version)
	if err != nil {
		return err
	}
	w, err := s.cfg.Store.ForwardConversation(c.Request().Context(), viewer(c), id, helpdesk.Forward{To: *in.To, Note: in.Note, Seen: seen})
	if err != nil {
		return s.apiRefusal(c, id, apiForwardFields(err))
	}
	t, err := s.writtenThread(c, id, w.ThreadID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"message_id": w.MessageID, "thread": t})
}

// apiForwardFields names a refused forward's fields as the API's input
// does ("to", "note") rather than as the page's form ("forward_to", ...).
func apiForwardFields(err error) error {
	fields := errorFields(err)
	if fields == nil {
		return err
	}
	renamed := map[string]string{}
	for k, msg := range fields {
		switch k {
		case "forward_to":
			k = "to"
		case "forward_note":
			k = "note"
		}
		renamed[k] = msg
	}
	return &fieldError{status: http.StatusUnprocessableEntity, fields: renamed}
}
