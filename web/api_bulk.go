package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// apiBulkInput is the JSON of POST /api/v1/conversations/bulk.
type apiBulkInput struct {
	Action     string           `json:"action"`
	IDs        []int64          `json:"ids"`
	AssigneeID json.RawMessage  `json:"assignee_id"` // assign: a user id; null or 0 unassigns
	Status     string           `json:"status"`
	Tag        string           `json:"tag"`
	Into       int64            `json:"into"`
	Versions   map[string]int64 `json:"versions"` // per id, the version the client saw
}

// apiBulkActions are the API's actions; spam and not_spam are status
// changes, as the list's buttons.
var apiBulkActions = []string{"assign", "status", "tag", "merge", "spam", "not_spam", "read", "unread"}

// apiBulkResult is what became of one conversation.
type apiBulkResult struct {
	ID       int64            `json:"id"`
	OK       bool             `json:"ok"`
	Error    string           `json:"error"`
	Conflict *apiBulkConflict `json:"conflict,omitempty"`
}

// apiBulkConflict says what changed since the version given.
type apiBulkConflict struct {
	Version int64             `json:"version"` // the conversation's version now
	Changes []helpdesk.Change `json:"changes"`
}

// apiBulk is POST /api/v1/conversations/bulk: one action on several
// conversations, each changed on its own (as on its page) and only if
// the caller may see it; one's failure does not stop the others. 200 with
// {"results": [...]} in the order of ids; 422 when the action itself is
// invalid.
func (s *Server) apiBulk(c echo.Context) error {
	var in apiBulkInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	change, err := in.change()
	if err != nil {
		return err
	}
	results, err := s.cfg.Store.Bulk(c.Request().Context(), viewer(c), change)
	if err != nil {
		return err
	}
	out := make([]apiBulkResult, len(results))
	for i, r := range results {
		if r.Err != nil && statusOf(r.Err) >= 500 {
			s.log.Error("web: bulk change failed", "conversation", r.ID, "action", change.Action, "err", r.Err)
		}
		out[i] = apiBulkOutcome(r)
	}
	return c.JSON(http.StatusOK, map[string]any{"results": out})
}

// change checks what only the API's JSON can get wrong; BulkChange.Validate
// checks the rest.
func (in *apiBulkInput) change() (helpdesk.BulkChange, error) {
	bad := map[string]string{}
	b := helpdesk.BulkChange{Action: in.Action, IDs: in.IDs, Seen: map[int64]int64{}, Status: in.Status, Tag: in.Tag, Into: in.Into}
	switch in.Action {
	case "spam":
		b.Action, b.Status = helpdesk.BulkStatus, helpdesk.StatusSpam
	case "not_spam":
		b.Action, b.Status = helpdesk.BulkStatus, helpdesk.StatusActive
	case helpdesk.BulkAssign:
		if err := json.Unmarshal(in.AssigneeID, &b.AssigneeID); len(in.AssigneeID) == 0 || err != nil || b.AssigneeID < 0 {
			bad["assignee_id"] = "must be a user id, or null or 0 to unassign"
		}
	}
	if !slices.Contains(apiBulkActions, in.Action) {
		bad["action"] = "must be one of assign, status, tag, merge, spam, not_spam, read, unread"
	}
	for _, id := range in.IDs {
		if id < 1 {
			bad["ids"] = "must be conversation ids"
		}
	}
	for key, v := range in.Versions {
		id, err := strconv.ParseInt(key, 10, 64)
		if err != nil || !slices.Contains(in.IDs, id) || v < 1 {
			bad["versions"] = "must map ids of the selection to versions (positive whole numbers)"
			continue
		}
		b.Seen[id] = v
	}
	if len(bad) > 0 {
		return b, &fieldError{status: http.StatusUnprocessableEntity, fields: bad}
	}
	return b, b.Validate()
}

// apiBulkOutcome describes one conversation's result; a change refused on
// an older version carries what changed since.
func apiBulkOutcome(r helpdesk.BulkResult) apiBulkResult {
	out := apiBulkResult{ID: r.ID, OK: r.Err == nil}
	var stale *helpdesk.StaleError
	switch {
	case r.Err == nil:
	case errors.As(r.Err, &stale):
		out.Error = fmt.Sprintf("the conversation changed since version %d: read it and try again", stale.Seen)
		out.Conflict = &apiBulkConflict{Version: stale.Current, Changes: stale.Changes}
	default:
		out.Error = bulkMessage(r.Err)
	}
	return out
}
