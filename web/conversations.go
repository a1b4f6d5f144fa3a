package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// viewer is who is asking, for the access checks of helpdesk.
func viewer(c echo.Context) helpdesk.Viewer { return helpdesk.ViewerOf(currentUser(c)) }

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
	BulkURL   string
	Assignees []helpdesk.Assignee
	Bulk      *bulkForm
}

// conversationsPage is "/": the viewer's conversations, active first by
// default.
func (s *Server) conversationsPage(c echo.Context) error {
	return s.showConversationList(c, http.StatusOK, nil)
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
	Form         *conversationForm
	// Others are the customer's other conversations the agent may see
	// (the sidebar), newest first.
	Others []helpdesk.ConversationSummary
	// MergeInto is the typed number of a refused merge, kept.
	MergeInto string
	Limits    helpdesk.AttachmentLimits // of the composer's files
	Composer  composerAids
}

// conversationPage shows one conversation: threads oldest first, HTML
// sanitised (remote images only with ?images=1; mail_html_view.go), plain
// text with ?text=1. A merged one leads to the one it was merged into.
func (s *Server) conversationPage(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	f := &conversationForm{fresh: true}
	if err := s.restoreDraft(c, id, f); err != nil {
		return err
	}
	return mergedRedirect(c, s.showConversation(c, id, http.StatusOK, f))
}

// showConversation renders the conversation page as it is now, with the
// agent's form as they left it (typed text, errors, what changed).
func (s *Server) showConversation(c echo.Context, id int64, status int, f *conversationForm) error {
	ctx := c.Request().Context()
	d, err := s.cfg.Store.Conversation(ctx, viewer(c), id)
	if err != nil {
		return err
	}
	// The agent reads it as shown: no longer bold in their list.
	if err := s.cfg.Store.MarkRead(ctx, viewer(c), id, d.Version); err != nil {
		return err
	}
	p := &conversationViewPage{
		C: d, RemoteImages: c.QueryParam("images") == "1", PlainText: c.QueryParam("text") == "1",
		Statuses: helpdesk.Statuses, Form: f, MergeInto: c.FormValue("into"), Limits: s.cfg.Attachments,
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
	if p.Others, err = s.otherConversations(ctx, viewer(c), d); err != nil {
		return err
	}
	if p.Composer, err = s.loadComposerAids(ctx, viewer(c), d); err != nil {
		return err
	}
	p.Composer.DraftRestored = c.Request().Method == http.MethodGet && f.Reply != ""
	// Mail keeps its inline styles (only allowed properties, sanitize.go):
	// style attributes apply on this page, style elements stay 'self'.
	imgSrc := "'self' data:"
	f.describeChanges(d)
	if f.fresh {
		own, err := s.cfg.Store.OwnAddresses(ctx)
		if err != nil {
			return err
		}
		f.Cc = strings.Join(helpdesk.ReplyAllCc(d, own), ", ")
	}
	if p.RemoteImages {
		// The agent asked for this mail's remote images: this page only
		// may load images from anywhere. Scripts stay same-origin.
		imgSrc += " http: https:"
	}
	c.Response().Header().Set("Content-Security-Policy", "default-src 'self'; img-src "+imgSrc+
		"; style-src 'self'; style-src-attr 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'")
	return s.render(c, status, "conversation.html", d.Subject, p)
}

// conversationNote adds the typed internal note.
func (s *Server) conversationNote(c echo.Context) error {
	return s.conversationAction(c, func(ctx context.Context, v helpdesk.Viewer, id int64, f *conversationForm) (string, error) {
		w, err := s.cfg.Store.AddNote(ctx, v, id, f.Note, f.Seen)
		if err != nil {
			return "", renameField(err, "body", "note")
		}
		f.Note = ""
		f.anchor = "#thread-" + itoa(w.ThreadID)
		return "saved", nil
	})
}

// conversationReplyRetry queues the failed mail of a reply (or of the
// forward a note records) again.
func (s *Server) conversationReplyRetry(c echo.Context) error {
	threadID, err := parseID(c, "thread")
	if err != nil {
		return err
	}
	return s.conversationAction(c, func(ctx context.Context, v helpdesk.Viewer, id int64, f *conversationForm) (string, error) {
		if err := s.cfg.Store.RetryReply(ctx, v, id, threadID); err != nil {
			if errors.Is(err, helpdesk.ErrNotFound) {
				return "", &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"retry": "this mail is not failed (any more): nothing to retry"}}
			}
			return "", err
		}
		f.anchor = "#thread-" + itoa(threadID)
		return "reply-retried", nil
	})
}

// conversationUpdate sets status and assignee from the form; an empty
// assignee field unassigns.
func (s *Server) conversationUpdate(c echo.Context) error {
	return s.conversationAction(c, func(ctx context.Context, v helpdesk.Viewer, id int64, f *conversationForm) (string, error) {
		ch := helpdesk.ConversationChange{Seen: f.Seen}
		if st := c.FormValue("status"); st != "" {
			ch.Status = &st
		}
		if raw, ok := c.Request().PostForm["assignee"]; ok {
			var a int64
			if raw[0] != "" {
				var err error
				if a, err = strconv.ParseInt(raw[0], 10, 64); err != nil || a < 1 {
					return "", &fieldError{status: http.StatusUnprocessableEntity, fields: map[string]string{"assignee": "must be a user id"}}
				}
			}
			ch.AssigneeID = &a
		}
		return "saved", s.cfg.Store.UpdateConversation(ctx, v, id, ch)
	})
}

// conversationTagAdd tags the conversation with the typed tag.
func (s *Server) conversationTagAdd(c echo.Context) error {
	return s.conversationAction(c, func(ctx context.Context, v helpdesk.Viewer, id int64, f *conversationForm) (string, error) {
		if err := s.cfg.Store.AddTag(ctx, v, id, f.Tag, f.Seen); err != nil {
			return "", err
		}
		f.Tag = ""
		return "saved", nil
	})
}

// conversationTagRemove removes the tag of the pressed button (remove).
func (s *Server) conversationTagRemove(c echo.Context) error {
	return s.conversationAction(c, func(ctx context.Context, v helpdesk.Viewer, id int64, f *conversationForm) (string, error) {
		return "saved", s.cfg.Store.RemoveTag(ctx, v, id, c.FormValue("remove"), f.Seen)
	})
}

// otherConversations are the customer's conversations but this one.
func (s *Server) otherConversations(ctx context.Context, v helpdesk.Viewer, d *helpdesk.ConversationDetail) ([]helpdesk.ConversationSummary, error) {
	all, err := s.cfg.Store.CustomerConversations(ctx, v, d.CustomerID)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(o helpdesk.ConversationSummary) bool { return o.ID == d.ID }), nil
}
