package web

import (
	"fmt"
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
	ctx := c.Request().Context()
	v := viewer(c)
	w, err := s.cfg.Store.ForwardConversation(ctx, v, id, helpdesk.Forward{To: *in.To, Note: in.Note, Seen: seen})
	if err != nil {
		return s.apiRefusal(c, id, apiForwardFields(err))
	}
	d, err := s.cfg.Store.Conversation(ctx, v, id)
	if err != nil {
		return err
	}
	for _, t := range d.Threads {
		if t.ID == w.ThreadID {
			setETag(c, d)
			c.Response().Header().Set(echo.HeaderLocation, fmt.Sprintf("/api/v1/conversations/%d", id))
			return c.JSON(http.StatusCreated, map[string]any{"message_id": w.MessageID, "thread": toAPIThread(t)})
		}
	}
	return fmt.Errorf("thread %d not found after forwarding", w.ThreadID)
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
