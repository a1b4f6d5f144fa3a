package web

import (
	"context"
	"html/template"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// A thread's HTML is sanitised once per view kind (remote images or not)
// and kept (store: sanitized_html); later views read what was kept. HTML
// larger than Config.MailHTMLMaxBytes is not sanitised at all: the page
// shows the thread's text and a link to download the HTML.

// threadView is one thread as the conversation page shows it.
type threadView struct {
	helpdesk.Thread
	HTML         template.HTML // sanitised; empty when the thread's text is shown
	Blocked      bool          // remote images were blocked
	HTMLTooLarge string        // the size of an HTML body too large to show ("17 MB"); its text is shown
}

// threadViews returns the conversation's threads for the page, with their
// sanitised HTML unless the page shows plain text.
func (s *Server) threadViews(ctx context.Context, v helpdesk.Viewer, d *helpdesk.ConversationDetail, plainText, remoteImages bool) ([]threadView, error) {
	views := make([]threadView, len(d.Threads))
	var formatted []int // indexes of the threads shown as HTML
	var ids []int64     // and their ids
	for i, t := range d.Threads {
		views[i].Thread = t
		switch {
		case plainText || !t.HasHTML():
		case t.HTMLSize > s.cfg.MailHTMLMaxBytes:
			views[i].HTMLTooLarge = humanize.Bytes(uint64(t.HTMLSize))
		default:
			formatted, ids = append(formatted, i), append(ids, t.ID)
		}
	}
	kept, err := s.cfg.Store.SanitizedHTML(ctx, v, ids, remoteImages, mailHTMLPolicy)
	if err != nil {
		return nil, err
	}
	for _, i := range formatted {
		tv := &views[i]
		h, ok := kept[tv.ID]
		if !ok {
			if h, err = s.sanitizeOnce(ctx, v, tv.ID, remoteImages); err != nil {
				return nil, err
			}
		}
		if strings.TrimSpace(h.HTML) != "" { // else nothing was left to show: the text is shown
			tv.HTML, tv.Blocked = template.HTML(h.HTML), h.Blocked
		}
	}
	return views, nil
}

// sanitizeOnce sanitises a thread's HTML for a view and keeps the result.
// Keeping it only saves later views work: when the database refuses the
// write (SQLite busy with a long fetch commit), the page is still shown.
func (s *Server) sanitizeOnce(ctx context.Context, v helpdesk.Viewer, threadID int64, remoteImages bool) (helpdesk.SanitizedHTML, error) {
	raw, err := s.cfg.Store.ThreadHTML(ctx, v, threadID)
	if err != nil {
		return helpdesk.SanitizedHTML{}, err
	}
	h := helpdesk.SanitizedHTML{ThreadID: threadID, RemoteImages: remoteImages, Policy: mailHTMLPolicy}
	h.HTML, h.Blocked = sanitizeMailHTML(raw, mailHTMLOptions{ThreadID: threadID, RemoteImages: remoteImages})
	if err := s.cfg.Store.SaveSanitizedHTML(ctx, h); err != nil {
		s.log.Warn("web: sanitised mail HTML not kept", "thread_id", threadID, "err", err)
	}
	return h, nil
}

// threadHTMLDownload answers GET /threads/:id/html: the thread's HTML as
// it arrived, as a download (served like an attachment: never a page of
// our origin).
func (s *Server) threadHTMLDownload(c echo.Context) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	raw, err := s.cfg.Store.ThreadHTML(c.Request().Context(), viewer(c), id)
	if err != nil {
		return err
	}
	a := &helpdesk.StoredAttachment{Data: []byte(raw)}
	a.Filename, a.ContentType, a.Size = "message-"+itoa(id)+".html", "text/html", int64(len(raw))
	return serveAttachment(c, a, false)
}
