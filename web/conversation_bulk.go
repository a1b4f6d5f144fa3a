package web

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// bulkForm is the bulk actions' form as the agent sent it, and what
// became of each conversation.
type bulkForm struct {
	Selected map[int64]bool
	Assignee string
	Status   string
	Tag      string
	Into     string
	Error    string           // the action itself was refused
	Failed   map[int64]string // why a conversation was not changed
	Changed  int
}

// bulkActions maps the pressed button to the action; Spam and Not spam
// are status changes.
var bulkActions = map[string]string{
	"assign": helpdesk.BulkAssign, "status": helpdesk.BulkStatus, "tag": helpdesk.BulkTag, "merge": helpdesk.BulkMerge,
	"spam": helpdesk.BulkStatus, "not-spam": helpdesk.BulkStatus, "read": helpdesk.BulkRead, "unread": helpdesk.BulkUnread,
}

// conversationsBulk is POST /conversations/bulk?<the list's query>: one
// action on the checked conversations (ids), each changed on the version
// its row showed (seen_ID). All changed: back to the list with a notice;
// otherwise the list again with each failure beside its conversation.
func (s *Server) conversationsBulk(c echo.Context) error {
	form, change := parseBulkForm(c)
	if form.Error == "" {
		results, err := s.cfg.Store.Bulk(c.Request().Context(), viewer(c), change)
		if err != nil {
			form.Error = bulkMessage(err)
		}
		for _, r := range results {
			if r.Err == nil {
				form.Changed++
				continue
			}
			if statusOf(r.Err) >= 500 {
				s.log.Error("web: bulk change failed", "conversation", r.ID, "action", change.Action, "err", r.Err)
			}
			form.Failed[r.ID] = bulkMessage(r.Err)
		}
		if form.Error == "" && len(form.Failed) == 0 {
			back := c.Request().URL.Query()
			back.Set("notice", "bulk-done")
			return c.Redirect(http.StatusSeeOther, "/?"+back.Encode())
		}
	}
	return s.showConversationList(c, http.StatusUnprocessableEntity, form)
}

// parseBulkForm reads the posted form (not the list's query, which has
// fields of the same names); a problem of the form itself goes in
// form.Error.
func parseBulkForm(c echo.Context) (*bulkForm, helpdesk.BulkChange) {
	posted := url.Values{}
	if err := c.Request().ParseForm(); err == nil {
		posted = c.Request().PostForm
	}
	form := &bulkForm{Selected: map[int64]bool{}, Failed: map[int64]string{},
		Assignee: posted.Get("assignee"), Status: posted.Get("status"), Tag: posted.Get("tag"), Into: posted.Get("into")}
	pressed := posted.Get("action")
	b := helpdesk.BulkChange{Action: bulkActions[pressed], Seen: map[int64]int64{}, Status: form.Status, Tag: form.Tag}
	switch pressed {
	case "spam":
		b.Status = helpdesk.StatusSpam
	case "not-spam":
		b.Status = helpdesk.StatusActive
	}
	for _, raw := range posted["ids"] {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id < 1 {
			form.Error = "the selection is not a list of conversation numbers"
			return form, b
		}
		form.Selected[id] = true
		b.IDs = append(b.IDs, id)
		if v, err := strconv.ParseInt(posted.Get("seen_"+raw), 10, 64); err == nil {
			b.Seen[id] = v
		}
	}
	var err error
	if b.Action == helpdesk.BulkAssign && form.Assignee != "" {
		if b.AssigneeID, err = strconv.ParseInt(form.Assignee, 10, 64); err != nil || b.AssigneeID < 1 {
			form.Error = "assignee: must be a user"
		}
	}
	if b.Action == helpdesk.BulkMerge {
		if b.Into, err = strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(form.Into), "#"), 10, 64); err != nil || b.Into < 1 {
			form.Error = "merge into: must be a conversation number"
		}
	}
	if form.Error == "" {
		if err := b.Validate(); err != nil {
			form.Error = bulkMessage(err)
		}
	}
	return form, b
}

// bulkMessage says in words why a change was not made.
func bulkMessage(err error) string {
	var stale *helpdesk.StaleError
	switch {
	case errors.As(err, &stale):
		var what []string
		for _, ch := range stale.Changes {
			what = append(what, ch.Field+" by "+ch.Who())
		}
		return "changed since the list was shown (" + strings.Join(what, ", ") + "); reload and try again"
	case errors.Is(err, helpdesk.ErrNotFound):
		return "no such conversation that you can see"
	}
	if fields := errorFields(err); fields != nil {
		var parts []string
		for k, v := range fields {
			parts = append(parts, k+": "+v)
		}
		sort.Strings(parts)
		return strings.Join(parts, "; ")
	}
	if statusOf(err) >= 500 {
		return "not changed: a server error (logged)"
	}
	return err.Error()
}
