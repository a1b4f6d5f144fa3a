package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// viewer is who is asking, for the access checks of helpdesk.
func viewer(c echo.Context) helpdesk.Viewer { return helpdesk.ViewerOf(currentUser(c)) }

// parseConversationFilter reads the list's query parameters: mailbox,
// status ("all" or empty for every status), assignee (a user id, "me" or
// "none"), tag, q, page, per_page. defaultStatus applies when status is
// absent.
func parseConversationFilter(c echo.Context, defaultStatus string) (helpdesk.ConversationFilter, error) {
	q := c.QueryParams()
	f := helpdesk.ConversationFilter{Tag: q.Get("tag"), Query: q.Get("q")}
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
	case !ok:
		f.Status = defaultStatus
	case st[0] == "all" || st[0] == "":
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
	if len(bad) > 0 {
		return f, &fieldError{status: http.StatusBadRequest, fields: bad}
	}
	return f, nil
}

type conversationListPage struct {
	Filter     helpdesk.ConversationFilter
	StatusTab  string // "all" or the filter's status
	Assignee   string // the assignee parameter as given
	List       *helpdesk.ConversationList
	Mailboxes  []helpdesk.MailboxRef
	Tags       []string
	Statuses   []string
	query      url.Values
	PrevURL    string
	NextURL    string
	StatusURLs map[string]string
	AllURL     string
}

// conversationsPage is "/": the viewer's conversations, active first by
// default.
func (s *Server) conversationsPage(c echo.Context) error {
	ctx := c.Request().Context()
	f, err := parseConversationFilter(c, helpdesk.StatusActive)
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
		Filter: f, List: list, Mailboxes: mbs, Tags: tags, Statuses: helpdesk.Statuses,
		Assignee: c.QueryParam("assignee"), query: url.Values{}, StatusURLs: map[string]string{},
	}
	d.StatusTab = f.Status
	if d.StatusTab == "" {
		d.StatusTab = "all"
	}
	for _, k := range []string{"mailbox", "assignee", "tag", "q", "per_page"} {
		if v := c.QueryParam(k); v != "" {
			d.query.Set(k, v)
		}
	}
	for _, st := range helpdesk.Statuses {
		d.StatusURLs[st] = d.link(st, 0)
	}
	d.AllURL = d.link("all", 0)
	if f.Page > 1 {
		d.PrevURL = d.link(d.StatusTab, f.Page-1)
	}
	if f.Page < list.Pages() {
		d.NextURL = d.link(d.StatusTab, f.Page+1)
	}
	return s.render(c, http.StatusOK, "conversations.html", "Conversations", d)
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

type conversationViewPage struct {
	C            *helpdesk.ConversationDetail
	Threads      []threadView
	RemoteImages bool
	AnyBlocked   bool
	PlainText    bool
	AssigneeID   int64 // 0: nobody
	Assignees    []helpdesk.Assignee
	Statuses     []string
}

// conversationPage shows one conversation: threads oldest first, HTML
// sanitised (remote images only with ?images=1; mail_html_view.go), plain
// text with ?text=1.
func (s *Server) conversationPage(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	d, err := s.cfg.Store.Conversation(ctx, viewer(c), id)
	if err != nil {
		return err
	}
	p := &conversationViewPage{
		C: d, RemoteImages: c.QueryParam("images") == "1", PlainText: c.QueryParam("text") == "1",
		Statuses: helpdesk.Statuses,
	}
	if d.AssigneeID != nil {
		p.AssigneeID = *d.AssigneeID
	}
	if p.Threads, err = s.threadViews(ctx, viewer(c), d, p.PlainText, p.RemoteImages); err != nil {
		return err
	}
	for _, tv := range p.Threads {
		p.AnyBlocked = p.AnyBlocked || tv.Blocked
	}
	if p.Assignees, err = s.cfg.Store.Assignees(ctx, d.MailboxID); err != nil {
		return err
	}
	// Mail keeps its inline styles (only allowed properties, sanitize.go):
	// style attributes apply on this page, style elements stay 'self'.
	imgSrc := "'self' data:"
	if p.RemoteImages {
		// The agent asked for this mail's remote images: this page only
		// may load images from anywhere. Scripts stay same-origin.
		imgSrc += " http: https:"
	}
	c.Response().Header().Set("Content-Security-Policy", "default-src 'self'; img-src "+imgSrc+
		"; style-src 'self'; style-src-attr 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'")
	return s.render(c, http.StatusOK, "conversation.html", d.Subject, p)
}

func (s *Server) backToConversation(c echo.Context, id int64, anchor string) error {
	return c.Redirect(http.StatusSeeOther, "/conversations/"+itoa(id)+"?notice=saved"+anchor)
}

// conversationReply sends the form's reply to the customer (via the outbox).
func (s *Server) conversationReply(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	w, err := s.cfg.Store.AddReply(c.Request().Context(), viewer(c), id, c.FormValue("body"))
	if err != nil {
		return err
	}
	return s.backToConversation(c, id, "#thread-"+itoa(w.ThreadID))
}

// conversationNote adds the form's internal note.
func (s *Server) conversationNote(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	w, err := s.cfg.Store.AddNote(c.Request().Context(), viewer(c), id, c.FormValue("body"))
	if err != nil {
		return err
	}
	return s.backToConversation(c, id, "#thread-"+itoa(w.ThreadID))
}

// conversationUpdate sets status and assignee from the form; an empty
// assignee field unassigns.
func (s *Server) conversationUpdate(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	var ch helpdesk.ConversationChange
	if vals, ok := form["status"]; ok && vals[0] != "" {
		ch.Status = &vals[0]
	}
	if vals, ok := form["assignee"]; ok {
		var a int64
		if raw := vals[0]; raw != "" {
			if a, err = strconv.ParseInt(raw, 10, 64); err != nil || a < 1 {
				return &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"assignee": "must be a user id"}}
			}
		}
		ch.AssigneeID = &a
	}
	if err := s.cfg.Store.UpdateConversation(c.Request().Context(), viewer(c), id, ch); err != nil {
		return err
	}
	return s.backToConversation(c, id, "")
}

// conversationTagAdd tags the conversation with the form's tag.
func (s *Server) conversationTagAdd(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.AddTag(c.Request().Context(), viewer(c), id, c.FormValue("tag")); err != nil {
		return err
	}
	return s.backToConversation(c, id, "")
}

// conversationTagRemove removes the form's tag.
func (s *Server) conversationTagRemove(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.RemoveTag(c.Request().Context(), viewer(c), id, c.FormValue("tag")); err != nil {
		return err
	}
	return s.backToConversation(c, id, "")
}
