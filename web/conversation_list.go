package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// parseConversationFilter reads the list's query parameters: mailbox,
// folder, status ("all" or empty for every status), assignee (a user id,
// "me" or "none"), tag, q, sort, page, per_page. defaultStatus applies
// when status and folder are absent.
func parseConversationFilter(c echo.Context, defaultStatus string) (helpdesk.ConversationFilter, error) {
	q := c.QueryParams()
	f := helpdesk.ConversationFilter{Tag: q.Get("tag"), Query: q.Get("q"), Folder: q.Get("folder"), Sort: q.Get("sort")}
	bad := map[string]string{}
	num := func(name string, max int64) int64 {
		v := strings.TrimSpace(q.Get(name))
		if v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > max {
			bad[name] = "must be a whole number from 1 to " + strconv.FormatInt(max, 10)
			return 0
		}
		return n
	}
	f.MailboxID = num("mailbox", 1<<62)
	f.Page = int(num("page", 10000))
	f.PerPage = int(num("per_page", helpdesk.MaxPerPage))
	switch a := strings.TrimSpace(q.Get("assignee")); a {
	case "", "any":
	case "none":
		f.Unassigned = true
	case "me":
		if u := currentUser(c); u != nil {
			f.AssigneeID = u.ID
		}
	default:
		f.AssigneeID = num("assignee", 1<<62)
		if bad["assignee"] != "" {
			bad["assignee"] = "must be a user id, me or none"
		}
	}
	switch st, ok := q["status"]; {
	case !ok && f.Folder == "":
		f.Status = defaultStatus
	case !ok || st[0] == "all" || st[0] == "":
		f.Status = ""
	default:
		f.Status = st[0]
	}
	if len(bad) == 0 {
		// The domain's checks (status, lengths) are query-parameter
		// errors here too: 400.
		if err := f.Validate(); err != nil {
			if ve, ok := err.(*helpdesk.ValidationError); ok {
				for k, v := range ve.Fields {
					bad[k] = v
				}
			} else {
				return f, err
			}
		}
	}
	if len(bad) == 1 && bad["q"] != "" {
		// What was typed in the search box: a form field, 422.
		return f, &fieldError{status: http.StatusUnprocessableEntity, fields: bad}
	}
	if len(bad) > 0 {
		return f, &fieldError{status: http.StatusBadRequest, fields: bad}
	}
	return f, nil
}

// searchError is the message of a search the list cannot run (too long,
// nothing to search for), when it is the request's only bad parameter.
func searchError(err error) string {
	var fe *fieldError
	if errors.As(err, &fe) && len(fe.fields) == 1 {
		return fe.fields["q"]
	}
	return ""
}

type conversationListPage struct {
	Filter     helpdesk.ConversationFilter
	Query      string // the search as typed
	QueryError string // why the search did not run; the list is then unsearched
	StatusTab  string // "all" or the filter's status
	Assignee   string // the assignee parameter as given
	List       *helpdesk.ConversationList
	Mailboxes  []helpdesk.MailboxRef
	Tags       []string
	Statuses   []string
	Sorts      []string
	query      url.Values
	PrevURL    string
	NextURL    string
	StatusURLs map[string]string
	AllURL     string
	// The sidebar: every visible mailbox's folders.
	Folders    []folderLinks
	FolderName string // of the folder shown, for the collapsed sidebar; "" for none
	// The bulk actions' form: the list's own address to come back to,
	// who can be assigned, what was typed and what failed.
	ListQuery string
	Assignees []helpdesk.Assignee
	Bulk      *bulkForm
}

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

// conversationsPage is "/": the viewer's conversations, active first by
// default.
func (s *Server) conversationsPage(c echo.Context) error {
	return s.showConversationList(c, http.StatusOK, nil)
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
	d.ListQuery = strings.TrimPrefix(d.link(d.StatusTab, f.Page), "/?")
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

// link is the list URL with the current filters, another status and page.
func (d *conversationListPage) link(status string, page int) string {
	q := url.Values{}
	for k, v := range d.query {
		q[k] = v
	}
	q.Set("status", status)
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	return "/?" + q.Encode()
}
