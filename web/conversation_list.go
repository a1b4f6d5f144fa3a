package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// folderLinks is one mailbox of the sidebar.
type folderLinks struct {
	helpdesk.MailboxFolders
	Links []folderLink
}

type folderLink struct {
	helpdesk.FolderCount
	Name    string
	URL     string
	Current bool
}

// folderNames are the folders as the sidebar names them.
var folderNames = map[string]string{
	helpdesk.FolderMine: "Mine", helpdesk.FolderUnassigned: "Unassigned", helpdesk.FolderAssigned: "Assigned",
	helpdesk.FolderClosed: "Closed", helpdesk.FolderSpam: "Spam",
}

// sortNames are the list's orders as its select names them.
var sortNames = map[string]string{
	helpdesk.SortLastMessage: "Last message", helpdesk.SortCreated: "Created", helpdesk.SortWaiting: "Waiting longest",
}

// showConversationList renders the list of the request's query, with a
// bulk action's form as the agent left it (nil: none).
func (s *Server) showConversationList(c echo.Context, status int, bulk *bulkForm) error {
	ctx := c.Request().Context()
	f, err := parseConversationFilter(c, helpdesk.StatusActive)
	queryError := searchError(err)
	if queryError != "" {
		// The list without the search, the message beside the typed text.
		status = http.StatusUnprocessableEntity
		f.Query = ""
		err = nil
	}
	if err != nil {
		return err
	}
	v := viewer(c)
	list, err := s.cfg.Store.Conversations(ctx, v, f)
	if err != nil {
		return err
	}
	mbs, err := s.cfg.Store.VisibleMailboxes(ctx, v)
	if err != nil {
		return err
	}
	tags, err := s.cfg.Store.Tags(ctx, v)
	if err != nil {
		return err
	}
	d := &conversationListPage{
		Filter: f, Query: c.QueryParam("q"), QueryError: queryError, List: list, Mailboxes: mbs, Tags: tags,
		Statuses: helpdesk.Statuses, Sorts: helpdesk.Sorts, Bulk: bulk,
		Assignee: c.QueryParam("assignee"), query: url.Values{}, StatusURLs: map[string]string{},
	}
	d.StatusTab = f.Status
	if d.StatusTab == "" {
		d.StatusTab = "all"
	}
	for _, k := range []string{"mailbox", "folder", "assignee", "tag", "q", "sort", "per_page"} {
		if v := c.QueryParam(k); v != "" && (k != "q" || queryError == "") {
			d.query.Set(k, v)
		}
	}
	for _, st := range helpdesk.Statuses {
		d.StatusURLs[st] = d.link(st, 0)
	}
	d.AllURL = d.link("all", 0)
	d.BulkURL = "/conversations/bulk?" + strings.TrimPrefix(d.link(d.StatusTab, f.Page), "/?")
	if f.Page > 1 {
		d.PrevURL = d.link(d.StatusTab, f.Page-1)
	}
	if f.Page < list.Pages() {
		d.NextURL = d.link(d.StatusTab, f.Page+1)
	}
	if err := s.listSidebar(c, d, v); err != nil {
		return err
	}
	if d.Assignees, err = s.listAssignees(c, mbs); err != nil {
		return err
	}
	return s.render(c, status, "conversations.html", "Conversations", d)
}

// listSidebar fills in the folders of every visible mailbox.
func (s *Server) listSidebar(c echo.Context, d *conversationListPage, v helpdesk.Viewer) error {
	folders, err := s.cfg.Store.FolderCounts(c.Request().Context(), v)
	if err != nil {
		return err
	}
	for _, mf := range folders {
		fl := folderLinks{MailboxFolders: mf}
		for _, fc := range mf.Folders {
			l := folderLink{FolderCount: fc, Name: folderNames[fc.Folder],
				Current: d.Filter.MailboxID == mf.MailboxID && d.Filter.Folder == fc.Folder}
			q := url.Values{"mailbox": {itoa(mf.MailboxID)}, "folder": {fc.Folder}}
			if d.Filter.Sort != "" {
				q.Set("sort", d.Filter.Sort)
			}
			l.URL = "/?" + q.Encode()
			if l.Current {
				d.FolderName = mf.MailboxName + " · " + l.Name
			}
			fl.Links = append(fl.Links, l)
		}
		d.Folders = append(d.Folders, fl)
	}
	return nil
}

// listAssignees are the people the bulk action can assign: who can see
// any of the visible mailboxes (each conversation checks its own).
func (s *Server) listAssignees(c echo.Context, mbs []helpdesk.MailboxRef) ([]helpdesk.Assignee, error) {
	var all []helpdesk.Assignee
	seen := map[int64]bool{}
	for _, m := range mbs {
		as, err := s.cfg.Store.Assignees(c.Request().Context(), m.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if !seen[a.ID] {
				seen[a.ID] = true
				all = append(all, a)
			}
		}
	}
	return all, nil
}
