package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// What the reply box offers besides the text: the saved replies of the
// conversation's mailbox to insert, a preview of the signature that goes
// under the reply, and the agent's draft, saved while they type
// (static/composer.js) and restored when they come back.

// composerAids are the parts of the conversation page around the reply box.
type composerAids struct {
	SavedReplies  []helpdesk.SavedReply
	Signature     string // as it goes under this agent's reply; "" for none
	DraftRestored bool   // the reply box shows the agent's saved draft
}

// loadComposerAids reads the saved replies and the signature of a
// conversation for the viewer.
func (s *Server) loadComposerAids(ctx context.Context, v helpdesk.Viewer, d *helpdesk.ConversationDetail) (composerAids, error) {
	var a composerAids
	var err error
	if a.SavedReplies, err = s.cfg.Store.SavedReplies(ctx, v, d.MailboxID); err != nil {
		return a, err
	}
	a.Signature, err = s.cfg.Store.Signature(ctx, v, d.ID)
	return a, err
}

// restoreDraft fills the reply box of a freshly opened conversation with
// the agent's draft.
func (s *Server) restoreDraft(c echo.Context, id int64, f *conversationForm) error {
	draft, err := s.cfg.Store.Draft(c.Request().Context(), viewer(c), id)
	f.Reply = draft
	return err
}

// conversationDraft saves what the agent typed in the reply box (the form
// fields body, empty to delete the draft, and version, the page's): 204.
func (s *Server) conversationDraft(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	f, err := parseConversationForm(c)
	if err != nil {
		return err
	}
	if len(f.Fields) > 0 {
		return &fieldError{status: http.StatusUnprocessableEntity, fields: f.Fields}
	}
	if err := s.cfg.Store.SaveDraft(c.Request().Context(), viewer(c), id, f.Reply, f.Seen); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// conversationSavedReply inserts the chosen saved reply at the end of the
// reply box: the way without script (composer.js inserts it at the cursor).
func (s *Server) conversationSavedReply(c echo.Context) error {
	return s.conversationAction(c, func(ctx context.Context, v helpdesk.Viewer, id int64, f *conversationForm) (string, error) {
		rid, err := strconv.ParseInt(c.FormValue("saved_reply"), 10, 64)
		if err != nil || rid < 1 {
			return "", &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"saved_reply": "choose a saved reply"}}
		}
		r, err := s.cfg.Store.SavedReply(ctx, v, rid)
		if errors.Is(err, helpdesk.ErrNotFound) {
			return "", &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"saved_reply": "no such saved reply: choose another"}}
		}
		if err != nil {
			return "", err
		}
		if strings.TrimSpace(f.Reply) != "" {
			f.Reply = strings.TrimRight(f.Reply, "\n") + "\n\n"
		}
		f.Reply += r.Body
		// Kept as the draft too, as if typed.
		return "saved-reply-used", s.cfg.Store.SaveDraft(ctx, v, id, f.Reply, f.Seen)
	})
}
