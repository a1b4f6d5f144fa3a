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

// conversationMerge merges the conversation into the one numbered in the
// form's "into", refused when it changed since the version the page
// showed; the merged page then leads to it. Text typed into the
// reply, note or tag box belongs to this conversation, so the merge waits
// until it is sent or cleared.
func (s *Server) conversationMerge(c echo.Context) error {
	return s.conversationAction(c, func(ctx context.Context, v helpdesk.Viewer, id int64, f *conversationForm) (string, error) {
		if f.Reply != "" || f.Note != "" || f.Tag != "" {
			return "", mergeRefusal("send or clear the typed reply, note and tag first: they belong to this conversation")
		}
		into, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(c.FormValue("into")), "#"), 10, 64)
		if err != nil || into < 1 {
			return "", mergeRefusal("must be a conversation number")
		}
		err = s.cfg.Store.MergeConversation(ctx, v, id, into, f.Seen)
		if errors.Is(err, helpdesk.ErrNotFound) {
			return "", mergeRefusal("no conversation #" + itoa(into) + " that you can see")
		}
		return "merged", err
	})
}

func mergeRefusal(msg string) error {
	return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"into": msg}}
}

// apiMerge is POST /api/v1/conversations/:id/merge with {"into": ID,
// "version": N}: the merged conversation's threads, participants and tags
// move into ID, which comes back (200). 404 when the agent cannot see
// either, 422 for another mailbox's conversation or itself, 409 when the
// merged one changed since version N (optional: also If-Match).
func (s *Server) apiMerge(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Into    *int64 `json:"into"`
		Version *int64 `json:"version"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Into == nil || *in.Into < 1 {
		return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"into": "must be a conversation id"}}
	}
	seen, err := seenVersion(c, in.Version)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	v := viewer(c)
	if err := s.cfg.Store.MergeConversation(ctx, v, id, *in.Into, seen); err != nil {
		return s.apiRefusal(c, id, err)
	}
	d, err := s.cfg.Store.Conversation(ctx, v, *in.Into)
	if err != nil {
		return err
	}
	setETag(c, d)
	return c.JSON(http.StatusOK, toAPIConversation(d))
}

// mergedRedirect sends the reader of a merged conversation on to the one
// it was merged into: 303 for a page (keeping its query, the notice of a
// merge), 301 with {"merged_into": ID} for the API. Other errors pass.
func mergedRedirect(c echo.Context, err error) error {
	var m *helpdesk.Merged
	if !errors.As(err, &m) {
		return err
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		c.Response().Header().Set(echo.HeaderLocation, "/api/v1/conversations/"+itoa(m.Into))
		return c.JSON(http.StatusMovedPermanently, map[string]int64{"merged_into": m.Into})
	}
	to := "/conversations/" + itoa(m.Into)
	if q := c.Request().URL.RawQuery; q != "" {
		to += "?" + q
	}
	return c.Redirect(http.StatusSeeOther, to)
}
